// Package cloudid reads Elastic Cloud IDs (cloud_id), for the plugins that
// take one: the elasticsearch input and output.
package cloudid

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Host decodes a Cloud ID into the Elasticsearch URL it names:
// "<label>:" then base64 of "<host>[:<port>]$<es id>[:<port>]$<kibana id>",
// giving https://<es id>.<host>:<port> (port 443 unless one is given, the
// Elasticsearch id's first).
func Host(id string) (string, error) {
	_, enc, ok := strings.Cut(id, ":")
	if !ok {
		enc = id
	}
	dec, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if dec, err = base64.RawStdEncoding.DecodeString(enc); err != nil {
			return "", fmt.Errorf("not a Cloud ID: the part after the label is not base64")
		}
	}
	parts := strings.Split(string(dec), "$")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", fmt.Errorf("not a Cloud ID: want \"<label>:<base64 of host$es-id$kibana-id>\"")
	}
	host, port, _ := strings.Cut(parts[0], ":")
	esID, esPort, _ := strings.Cut(parts[1], ":")
	if esPort != "" {
		port = esPort
	}
	if port == "" {
		port = "443"
	}
	return "https://" + esID + "." + host + ":" + port, nil
}
