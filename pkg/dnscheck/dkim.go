package dnscheck

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MinRSABits is the smallest RSA key receivers accept (RFC 8301 3.2).
const MinRSABits = 1024

// CheckDKIM reads the key record of selector at
// <selector>._domainkey.<domain> and parses it: PASS for an RSA key of at
// least MinRSABits bits or an Ed25519 key; FAIL for no record, a revoked
// key (empty p=), a record that does not parse, or a shorter RSA key.
func (c *Checker) CheckDKIM(ctx context.Context, domain, selector string) Result {
	domain = normalDomain(domain)
	r := c.result(CheckDKIM, domain)
	r.Selector = strings.ToLower(selector)
	at := r.Target()
	txts, a, err := c.res.txt(ctx, at)
	if err != nil {
		return unknown(r, err)
	}
	r.TTL = a.ttl
	switch len(txts) {
	case 0:
		r.Status, r.Reason = Fail, fmt.Sprintf("no key record (%s)", a.negative())
		return r
	case 1:
	default:
		// RFC 6376 3.6.2.2 leaves several records undefined.
		r.Record = strings.Join(txts, " | ")
		r.Status, r.Reason = Fail, fmt.Sprintf("%d TXT records: verifiers may take any or none", len(txts))
		return r
	}
	r.Record = txts[0]
	k, err := ParseDKIMKey(txts[0])
	switch {
	case err != nil:
		r.Status, r.Reason = Fail, err.Error()
	case k.Type == "rsa" && k.Bits < MinRSABits:
		r.Status, r.Reason = Fail, fmt.Sprintf("rsa key of %d bits: under %d bits, receivers ignore its signatures", k.Bits, MinRSABits)
	default:
		r.Status, r.Reason = Pass, k.String()
	}
	return r
}

// DKIMKey is what a DKIM key record publishes.
type DKIMKey struct {
	Type string // "rsa" or "ed25519"
	Bits int    // the key's size
}

func (k DKIMKey) String() string { return fmt.Sprintf("%s key of %d bits", k.Type, k.Bits) }

// ParseDKIMKey parses a DKIM key record (RFC 6376 3.6.1, RFC 8463):
// tag=value pairs; v= DKIM1 when given; k= rsa (the default) or ed25519;
// p= the key in base64, an RSA key as SubjectPublicKeyInfo or, as some
// publish it, PKCS#1 (RFC 6376 erratum 3017). go-msgauth's dkim has this
// parser but keeps it to its verifier (and refuses short keys without
// saying their size), so the record is read here with crypto/x509.
func ParseDKIMKey(record string) (DKIMKey, error) {
	tags := map[string]string{}
	for _, part := range strings.Split(record, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return DKIMKey{}, fmt.Errorf("malformed key record: %q is no tag=value", part)
		}
		if _, dup := tags[name]; dup {
			return DKIMKey{}, fmt.Errorf("malformed key record: tag %s= given twice", name)
		}
		tags[name] = strings.TrimSpace(value)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return DKIMKey{}, fmt.Errorf("not a DKIM key record (v=%s)", v)
	}
	p, ok := tags["p"]
	if !ok {
		return DKIMKey{}, errors.New("malformed key record: no p= tag")
	}
	p = strings.Join(strings.Fields(p), "")
	if p == "" {
		return DKIMKey{}, errors.New("key revoked (empty p=)")
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return DKIMKey{}, errors.New("malformed key: p= is not base64")
	}
	switch k := tags["k"]; k {
	case "", "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			pub, err = x509.ParsePKCS1PublicKey(der)
		}
		if err != nil {
			return DKIMKey{}, errors.New("malformed key: p= is no RSA public key")
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return DKIMKey{}, fmt.Errorf("malformed key: p= is a %T, not an RSA key", pub)
		}
		return DKIMKey{Type: "rsa", Bits: rk.N.BitLen()}, nil
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return DKIMKey{}, fmt.Errorf("malformed key: an ed25519 key is %d bytes, p= has %d", ed25519.PublicKeySize, len(der))
		}
		return DKIMKey{Type: "ed25519", Bits: 256}, nil
	default:
		return DKIMKey{}, fmt.Errorf("unknown key type k=%s (rsa or ed25519)", k)
	}
}
