package agentsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Client talks to the control API of a simulator running in another
// process.
type Client struct {
	// BaseURL is the simulator's address, for example
	// "http://127.0.0.1:5000". A path (such as the agent URL's /bcreg) is
	// ignored: the control API is at the root.
	BaseURL string
	// HTTPClient is the client to use; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Received returns the issued credentials after the first since.
func (c *Client) Received(ctx context.Context, since int) ([]Received, error) {
	var page ReceivedPage
	err := c.do(ctx, http.MethodGet, "/_sim/received?since="+strconv.Itoa(since), nil, &page)
	return page.Received, err
}

// Stats returns the simulator's counters.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := c.do(ctx, http.MethodGet, "/_sim/stats", nil, &st)
	return st, err
}

// Faults returns the fault settings in effect.
func (c *Client) Faults(ctx context.Context) (Faults, error) {
	var f Faults
	err := c.do(ctx, http.MethodGet, "/_sim/faults", nil, &f)
	return f, err
}

// SetFaults replaces the fault settings and returns those in effect.
func (c *Client) SetFaults(ctx context.Context, f Faults) (Faults, error) {
	body, err := json.Marshal(f)
	if err != nil {
		return Faults{}, fmt.Errorf("agentsim: set faults: %w", err)
	}
	var out Faults
	err = c.do(ctx, http.MethodPost, "/_sim/faults", body, &out)
	return out, err
}

// Reset clears the simulator's record and counters.
func (c *Client) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/_sim/reset", nil, nil)
}

func (c *Client) do(ctx context.Context, method, ref string, body []byte, out any) error {
	base, err := url.Parse(c.BaseURL)
	if err != nil {
		return fmt.Errorf("agentsim: base URL: %w", err)
	}
	rel, err := url.Parse(ref)
	if err != nil {
		return fmt.Errorf("agentsim: %w", err)
	}
	u := base.ResolveReference(rel)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("agentsim: %s %s: %w", method, rel.Path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("agentsim: %s %s: %w", method, rel.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("agentsim: %s %s: %w", method, rel.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("agentsim: %s %s: %s: %s", method, rel.Path, resp.Status, e.Error)
		}
		return fmt.Errorf("agentsim: %s %s: %s", method, rel.Path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("agentsim: %s %s: decode reply: %w", method, rel.Path, err)
	}
	return nil
}

// Drift changes the simulator's OrgBook view (see Drift).
func (c *Client) Drift(ctx context.Context, d Drift) error {
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("agentsim: drift: %w", err)
	}
	return c.do(ctx, http.MethodPost, "/_sim/orgbook/drift", body, nil)
}

// FlushOrgBook returns once the OrgBook database holds every change of the
// OrgBook view made before the call.
func (c *Client) FlushOrgBook(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/_sim/orgbook/flush", nil, nil)
}
