package dns

import (
	"context"
	"time"

	"github.com/miekg/dns"
)

// forwardTimeout bounds one upstream attempt, so a query never hangs.
const forwardTimeout = 2 * time.Second

// forward asks the upstream servers in turn, over UDP and over TCP when
// the answer is truncated, and returns the first answer; nil when there is
// no upstream or all failed.
func (s *Server) forward(ctx context.Context, req *dns.Msg) *dns.Msg {
	for _, up := range s.cfg.Upstream {
		c := &dns.Client{Net: "udp", Timeout: forwardTimeout}
		resp, _, err := c.ExchangeContext(ctx, req, up)
		if err == nil && resp != nil && resp.Truncated {
			c.Net = "tcp"
			resp, _, err = c.ExchangeContext(ctx, req, up)
		}
		if err == nil && resp != nil {
			return resp
		}
	}
	return nil
}

// chaseCNAME resolves the external target of an ExternalName Service and
// appends what the upstream answers.
func (s *Server) chaseCNAME(ctx context.Context, m *dns.Msg, target string, qtype uint16) {
	if len(s.cfg.Upstream) == 0 {
		return
	}
	req := new(dns.Msg)
	req.SetQuestion(target, qtype)
	req.RecursionDesired = true
	if resp := s.forward(ctx, req); resp != nil {
		m.Answer = append(m.Answer, resp.Answer...)
	}
}
