package image

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// SBOM is an SPDX 2.3 document listing the Go modules linked into a binary, read from the
// build information the Go toolchain embeds (the same list `go version -m` prints). It is
// deterministic: the same binary gives the same document.
func SBOM(binary, version string, created time.Time) ([]byte, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	exe, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	sum := sha256.Sum256(exe)
	type checksum struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"checksumValue"`
	}
	type ref struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	type pkg struct {
		ID               string     `json:"SPDXID"`
		Name             string     `json:"name"`
		Version          string     `json:"versionInfo,omitempty"`
		Download         string     `json:"downloadLocation"`
		FilesAnalyzed    bool       `json:"filesAnalyzed"`
		Checksums        []checksum `json:"checksums,omitempty"`
		ExternalRefs     []ref      `json:"externalRefs,omitempty"`
		LicenseConcluded string     `json:"licenseConcluded"`
		LicenseDeclared  string     `json:"licenseDeclared"`
		Copyright        string     `json:"copyrightText"`
	}
	type rel struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
	purl := func(path, v string) []ref {
		return []ref{{"PACKAGE-MANAGER", "purl", "pkg:golang/" + path + "@" + v}}
	}
	main := pkg{
		ID: "SPDXRef-Package-partner-operator", Name: info.Main.Path, Version: version,
		Download: "NOASSERTION", Checksums: []checksum{{"SHA256", hex.EncodeToString(sum[:])}},
		ExternalRefs: purl(info.Main.Path, version), LicenseConcluded: "Apache-2.0", LicenseDeclared: "Apache-2.0", Copyright: "NOASSERTION",
	}
	pkgs := []pkg{main}
	rels := []rel{{"SPDXRef-DOCUMENT", "DESCRIBES", main.ID}}
	for i, d := range info.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		p := pkg{
			ID: fmt.Sprintf("SPDXRef-Package-go-%d", i), Name: d.Path, Version: d.Version, Download: "NOASSERTION",
			ExternalRefs: purl(d.Path, d.Version), LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", Copyright: "NOASSERTION",
		}
		if h, ok := strings.CutPrefix(d.Sum, "h1:"); ok {
			p.Checksums = nil // the module hash is a dirhash, not a file checksum SPDX can name
			p.ExternalRefs = append(p.ExternalRefs, ref{"OTHER", "go-module-h1", h})
		}
		pkgs = append(pkgs, p)
		rels = append(rels, rel{main.ID, "DEPENDS_ON", p.ID})
	}
	doc := map[string]any{
		"spdxVersion":       "SPDX-2.3",
		"dataLicense":       "CC0-1.0",
		"SPDXID":            "SPDXRef-DOCUMENT",
		"name":              "partner-operator-" + version,
		"documentNamespace": "https://github.com/partnerops/partner-operator/spdx/" + version + "/" + hex.EncodeToString(sum[:8]),
		"creationInfo": map[string]any{
			"created":  created.UTC().Format(time.RFC3339),
			"creators": []string{"Tool: partner-operator-internal-image", "Tool: " + info.GoVersion},
		},
		"packages":      pkgs,
		"relationships": rels,
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	return append(out, '\n'), nil
}
