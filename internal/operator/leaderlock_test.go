package operator

import (
	"strings"
	"testing"
	"time"
)

func TestLeaseTimingsLeaveTheFenceAMargin(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg     Config
		wantErr bool
	}{
		"Defaults":               {cfg: Config{}},
		"TheSoaksTimings":        {cfg: Config{LeaseDuration: 8 * time.Second, RenewDeadline: 5 * time.Second}},
		"RenewDeadlineTooClose":  {cfg: Config{LeaseDuration: 10 * time.Second, RenewDeadline: 9500 * time.Millisecond}, wantErr: true},
		"RenewDefaultOverLease":  {cfg: Config{LeaseDuration: 10 * time.Second}, wantErr: true},
		"LeaseDefaultUnderRenew": {cfg: Config{RenewDeadline: 15 * time.Second}, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			err := checkLeaseTimings(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("checkLeaseTimings(%+v) = %v, want error %v", tc.cfg, err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "--leader-election-renew-deadline") {
				t.Errorf("the message does not name the flags: %v", err)
			}
		})
	}
}
