package dns

import (
	"strings"

	"github.com/miekg/dns"
)

// ttl is the time to live of cluster answers, as CoreDNS's default.
const ttl = 5

// answerCluster fills m, a reply to a question inside the cluster domain.
// For an ExternalName Service it returns the CNAME target, which the
// caller resolves.
func (s *Server) answerCluster(m *dns.Msg, q dns.Question) (chase string) {
	name := strings.ToLower(q.Name)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	if ip, ok := s.index.podIP(name); ok {
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: ip})
		} else {
			m.Ns = append(m.Ns, s.soa())
		}
		return ""
	}
	recs, exists := s.index.lookup(name)
	if !exists && !s.wellKnown(name) {
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, s.soa())
		return ""
	}
	if name == s.index.domain && (q.Qtype == dns.TypeSOA || q.Qtype == dns.TypeANY) {
		m.Answer = append(m.Answer, s.soa())
	}
	if name == s.index.domain && q.Qtype == dns.TypeNS {
		m.Answer = append(m.Answer, &dns.NS{Hdr: hdr(dns.TypeNS), Ns: "ns.dns." + s.index.domain})
	}
	if recs != nil {
		if recs.cname != "" {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: recs.cname})
			if q.Qtype != dns.TypeCNAME {
				return recs.cname
			}
			return ""
		}
		switch q.Qtype {
		case dns.TypeA:
			for _, ip := range recs.a {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: ip})
			}
		case dns.TypeAAAA:
			for _, ip := range recs.aaaa {
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip})
			}
		case dns.TypeSRV:
			s.appendSRV(m, q, recs)
		case dns.TypeANY:
			for _, ip := range recs.a {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: ip})
			}
			s.appendSRV(m, q, recs)
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = append(m.Ns, s.soa())
	}
	return ""
}

// appendSRV adds SRV answers with equal weights summing to 100, and the
// targets' addresses as additional records.
func (s *Server) appendSRV(m *dns.Msg, q dns.Question, recs *records) {
	if len(recs.srv) == 0 {
		return
	}
	weight := uint16(max(100/len(recs.srv), 1))
	added := map[string]bool{}
	for _, t := range recs.srv {
		m.Answer = append(m.Answer, &dns.SRV{
			Hdr:      dns.RR_Header{Name: q.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl},
			Priority: 0, Weight: weight, Port: t.port, Target: t.target,
		})
		if added[t.target] {
			continue
		}
		added[t.target] = true
		if tr, ok := s.index.lookup(t.target); ok && tr != nil {
			for _, ip := range tr.a {
				m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: t.target, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: ip})
			}
		}
	}
}

// wellKnown names exist even when no Service does.
func (s *Server) wellKnown(name string) bool {
	d := s.index.domain
	return name == d || name == "svc."+d || name == "pod."+d
}

// soa is the authority record for the cluster domain, shaped as CoreDNS's.
func (s *Server) soa() dns.RR {
	d := s.index.domain
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: d, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "ns.dns." + d,
		Mbox:    "hostmaster." + d,
		Serial:  1,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  ttl,
	}
}

// inCluster reports whether a lower-case fully qualified name is in the
// cluster domain.
func (s *Server) inCluster(name string) bool {
	return name == s.index.domain || strings.HasSuffix(name, "."+s.index.domain)
}
