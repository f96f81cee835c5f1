package graph

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxLookupAddresses is how many addresses one batched lookup asks Graph for: the documented
// limit of an `in` clause (15 values; with advanced query parameters the URL's 2,048
// characters bind first for long addresses, which the client splits on).
const MaxLookupAddresses = 15

// batchTimeout bounds a shared lookup, which no single caller's context may cancel.
const batchTimeout = 2 * time.Minute

// Coalesce wraps d so that lookups by address made within window of each other share one
// request of up to MaxLookupAddresses addresses: a burst of N new objects costs about N/15
// lookups instead of N. Every caller gets exactly the users FindUsersByEmail would have
// returned for its own address. A window of 0 turns batching off.
//
// If Graph refuses the batched query as a bad request (a tenant or cloud that does not
// support it), the coalescer stops batching and looks each address up on its own.
func Coalesce(d Directory, window time.Duration) Directory {
	if window <= 0 {
		return d
	}
	return &coalescer{Directory: d, window: window}
}

type coalescer struct {
	Directory // every other call passes through
	window    time.Duration
	refused   atomic.Bool // Graph answered a batch with 400: look up one by one

	mu   sync.Mutex
	open *lookupBatch // the batch new lookups join, nil when none is open
}

// lookupBatch is one shared lookup: the addresses asked for, and the answer once it is in.
type lookupBatch struct {
	emails []string
	full   chan struct{} // closed when the batch can take no more addresses
	done   chan struct{} // closed when users and err are set
	users  []User
	err    error
}

func (c *coalescer) FindUsersByEmail(ctx context.Context, email string) ([]User, error) {
	if c.refused.Load() {
		return c.Directory.FindUsersByEmail(ctx, email)
	}
	b := c.join(ctx, email)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.done:
	}
	if b.err != nil {
		if StatusCode(b.err) == 400 {
			c.refused.Store(true)
			return c.Directory.FindUsersByEmail(ctx, email)
		}
		return nil, b.err
	}
	return usersWithAddress(b.users, email), nil
}

// join adds email to the open batch, opening one (and its sender) when there is none.
func (c *coalescer) join(ctx context.Context, email string) *lookupBatch {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.open
	if b == nil {
		b = &lookupBatch{full: make(chan struct{}), done: make(chan struct{})}
		c.open = b
		// The request belongs to every caller in the batch, so the first caller's
		// cancellation must not end it; its values (logger, request IDs) are kept.
		go c.send(context.WithoutCancel(ctx), b)
	}
	for _, e := range b.emails {
		if strings.EqualFold(e, email) {
			return b
		}
	}
	b.emails = append(b.emails, email)
	if len(b.emails) == MaxLookupAddresses {
		c.open = nil
		close(b.full)
	}
	return b
}

// send waits for the window to pass or the batch to fill, closes it to newcomers, and asks.
func (c *coalescer) send(ctx context.Context, b *lookupBatch) {
	t := time.NewTimer(c.window)
	select {
	case <-t.C:
	case <-b.full:
		t.Stop()
	}
	c.mu.Lock()
	if c.open == b {
		c.open = nil
	}
	emails := b.emails
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	b.users, b.err = c.Directory.FindUsersByEmails(ctx, emails)
	close(b.done)
}

// usersWithAddress picks the users whose mail or otherMails is email, as Graph compares them:
// without regard to case.
func usersWithAddress(users []User, email string) []User {
	var out []User
	for _, u := range users {
		match := strings.EqualFold(u.Mail, email)
		for _, m := range u.OtherMails {
			match = match || strings.EqualFold(m, email)
		}
		if match {
			out = append(out, u)
		}
	}
	return out
}
