// Package netguard keeps Sluice's outbound requests away from the machine it
// runs on and the networks behind it (SSRF guard). Classify judges an IP
// address; NewClient returns the one HTTP client for outbound webhooks,
// whose dialer checks every resolved address at connect time, so a name
// that resolves (or rebinds) to a private address is refused; ValidateURL
// and CheckHost refuse bad URLs early, when a scenario is saved.
package netguard

import "net/netip"

// Address classes reported by Classify.
const (
	ClassPublic        = "public"
	ClassInvalid       = "invalid"
	ClassUnspecified   = "unspecified"
	ClassThisNetwork   = "this network"
	ClassLoopback      = "loopback"
	ClassPrivate       = "private"
	ClassSharedCGNAT   = "shared (CGNAT)"
	ClassLinkLocal     = "link-local"
	ClassMetadata      = "cloud metadata"
	ClassUniqueLocal   = "unique-local"
	ClassSiteLocal     = "site-local"
	ClassMulticast     = "multicast"
	ClassBroadcast     = "broadcast"
	ClassReserved      = "reserved"
	ClassBenchmarking  = "benchmarking"
	ClassDocumentation = "documentation"
)

// Classify says what kind of address addr is and whether outbound requests
// may go to it: only public unicast addresses are allowed. IPv4-mapped
// IPv6 (::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// addresses are judged by the IPv4 address they embed.
func Classify(addr netip.Addr) (class string, allowed bool) {
	if !addr.IsValid() {
		return ClassInvalid, false
	}
	addr = addr.Unmap()
	if addr.Is4() {
		class = classify4(addr.As4())
	} else {
		class = classify6(addr.As16())
	}
	return class, class == ClassPublic
}

// classify4 classifies an IPv4 address (IANA special-purpose registry).
func classify4(b [4]byte) string {
	switch {
	case b == [4]byte{}:
		return ClassUnspecified
	case b[0] == 0: // 0.0.0.0/8
		return ClassThisNetwork
	case b[0] == 10: // 10.0.0.0/8
		return ClassPrivate
	case b[0] == 100 && b[1]&0xc0 == 64: // 100.64.0.0/10
		return ClassSharedCGNAT
	case b[0] == 127: // 127.0.0.0/8
		return ClassLoopback
	case b == [4]byte{169, 254, 169, 254}: // AWS, GCP, Azure, OCI… metadata
		return ClassMetadata
	case b[0] == 169 && b[1] == 254: // 169.254.0.0/16
		return ClassLinkLocal
	case b[0] == 172 && b[1]&0xf0 == 16: // 172.16.0.0/12
		return ClassPrivate
	case b[0] == 192 && b[1] == 0 && b[2] == 0: // 192.0.0.0/24 IETF protocol assignments
		return ClassReserved
	case b[0] == 192 && b[1] == 0 && b[2] == 2: // 192.0.2.0/24 TEST-NET-1
		return ClassDocumentation
	case b[0] == 192 && b[1] == 88 && b[2] == 99: // 192.88.99.0/24 6to4 relay anycast
		return ClassReserved
	case b[0] == 192 && b[1] == 168: // 192.168.0.0/16
		return ClassPrivate
	case b[0] == 198 && b[1]&0xfe == 18: // 198.18.0.0/15
		return ClassBenchmarking
	case b[0] == 198 && b[1] == 51 && b[2] == 100: // 198.51.100.0/24 TEST-NET-2
		return ClassDocumentation
	case b[0] == 203 && b[1] == 0 && b[2] == 113: // 203.0.113.0/24 TEST-NET-3
		return ClassDocumentation
	case b[0]&0xf0 == 224: // 224.0.0.0/4
		return ClassMulticast
	case b == [4]byte{255, 255, 255, 255}:
		return ClassBroadcast
	case b[0]&0xf0 == 240: // 240.0.0.0/4
		return ClassReserved
	}
	return ClassPublic
}

// classify6 classifies an IPv6 address that is not IPv4-mapped.
func classify6(b [16]byte) string {
	be16 := func(i int) uint16 { return uint16(b[i])<<8 | uint16(b[i+1]) }
	embedded := func(i int) string { return classify4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	switch {
	case b == [16]byte{}:
		return ClassUnspecified
	case b == [16]byte{15: 1}:
		return ClassLoopback
	case be16(0) == 0x64 && be16(2) == 0xff9b && be16(4) == 0 && be16(6) == 0 && be16(8) == 0 && be16(10) == 0:
		return embedded(12) // 64:ff9b::/96 well-known NAT64 prefix
	case be16(0) == 0x64 && be16(2) == 0xff9b && be16(4) == 1: // 64:ff9b:1::/48 local-use NAT64
		return ClassPrivate
	case b[0] == 0: // rest of ::/8, incl. deprecated IPv4-compatible ::a.b.c.d
		return ClassReserved
	case be16(0) == 0x2001 && be16(2) == 0x0db8: // 2001:db8::/32
		return ClassDocumentation
	case be16(0) == 0x2001 && be16(2) == 0x0002 && be16(4) == 0: // 2001:2::/48
		return ClassBenchmarking
	case be16(0) == 0x2001 && b[2]&0xfe == 0: // 2001::/23 IETF protocol assignments (Teredo, ORCHID…)
		return ClassReserved
	case be16(0) == 0x2002: // 2002::/16 6to4 embeds the IPv4 address
		return embedded(2)
	case be16(0) == 0x3fff && b[2]&0xf0 == 0: // 3fff::/20
		return ClassDocumentation
	case b == [16]byte{0xfd, 0x00, 0x0e, 0xc2, 14: 0x02, 15: 0x54}: // fd00:ec2::254 AWS metadata
		return ClassMetadata
	case b[0]&0xfe == 0xfc: // fc00::/7
		return ClassUniqueLocal
	case b[0] == 0xfe && b[1]&0xc0 == 0x80: // fe80::/10
		return ClassLinkLocal
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0: // fec0::/10 (deprecated)
		return ClassSiteLocal
	case b[0] == 0xff: // ff00::/8
		return ClassMulticast
	case b[0]&0xe0 != 0x20: // outside 2000::/3, the only global unicast block
		return ClassReserved
	}
	return ClassPublic
}
