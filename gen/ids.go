package gen

import (
	"math/bits"

	"github.com/granarycdp/cdp/identity"
)

// Identifier values are made from a person's global number with keyed
// bijections, so two persons never get the same value by accident (10
// million random phone numbers would collide thousands of times); only the
// deliberate sharing of phones and devices puts one value on two persons.

// fmix64 is MurmurHash3's 64-bit finalizer, a bijection on uint64: distinct
// inputs give distinct outputs.
func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// mix derives a well-spread value from a key and an input; unlike
// fmix64(key^x) it is not meant to be unique.
func mix(key, x uint64) uint64 { return fmix64(key ^ fmix64(x+0x9e3779b97f4a7c15)) }

// affine is the permutation x -> (a*x + b) mod m of [0, m); a is coprime
// to m, so it is a bijection.
type affine struct{ a, b, m uint64 }

func newAffine(key, m uint64) affine {
	a := key%m | 1
	for gcd(a, m) != 1 {
		a += 2
	}
	return affine{a: a, b: fmix64(key) % m, m: m}
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (f affine) at(x uint64) uint64 {
	hi, lo := bits.Mul64(f.a, x%f.m)
	return (bits.Rem64(hi, lo, f.m) + f.b) % f.m
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendBase62 appends n base-62 digits of x (11 digits hold any uint64,
// so 11 keep x unique).
func appendBase62(b []byte, x uint64, n int) []byte {
	for range n {
		b = append(b, base62[x%62])
		x /= 62
	}
	return b
}

// idKind is an identifier a person can be given.
type idKind uint8

const (
	idPhone  idKind = iota // phone, raw 11 digits
	idDouyin               // douyin_openid
	idDevice               // anonymous_id of the phone or tablet the Douyin app runs on
	idUnion                // unionid (WeChat, across the brand's apps and WeCom)
	idWeCom                // wecom_external_userid
	idOpenGB               // openid in the group-buying mini program
	idOpenMP               // openid in the brand's mini program
	idTmall                // tmall_ouid
	idMember               // member_no of the store loyalty card
	numIDKinds
)

// idTypes maps idKind to the platform's identifier types.
var idTypes = [numIDKinds]string{
	idPhone: identity.Phone, idDouyin: identity.DouyinOpenID, idDevice: identity.AnonymousID,
	idUnion: identity.UnionID, idWeCom: identity.WeComExternalUserID, idOpenGB: identity.OpenID,
	idOpenMP: identity.OpenID, idTmall: identity.TmallOUID, idMember: identity.MemberNo,
}

// Keys of the generator's bijections, one per use.
const (
	keyHousehold = iota
	keyPhone
	keyDouyin
	keyDevice
	keyUnion
	keyWeCom
	keyOpenGB
	keyOpenMP
	keyTmall
	keyMember
	keyMessage
	keyChat
	keyOrder
	keyVideo
	keyWelcome
	numKeys
)

// idMaker turns person numbers into identifier values. It is immutable.
type idMaker struct {
	keys    [numKeys]uint64
	phones  affine // over the 7e9 numbers 13x..19x
	members affine
	orders  affine
}

func newIDMaker(seed uint64) idMaker {
	var m idMaker
	for i := range m.keys {
		m.keys[i] = mix(seed, uint64(i)*0x5851f42d4c957f2d+1)
	}
	m.phones = newAffine(m.keys[keyPhone], 7_000_000_000)
	m.members = newAffine(m.keys[keyMember], 100_000_000_000)
	m.orders = newAffine(m.keys[keyOrder], 10_000_000_000_000_000)
	return m
}

// uniq is the unique part of an identifier: a keyed bijection of n.
func (m *idMaker) uniq(key int, n uint64) uint64 { return fmix64(n ^ m.keys[key]) }

// token is prefix, then 11 base-62 digits of the unique part, then pad
// digits that only make the value look like the platform's.
func (m *idMaker) token(prefix string, key int, n uint64, pad int) string {
	b := make([]byte, 0, len(prefix)+11+pad)
	b = append(b, prefix...)
	b = appendBase62(b, m.uniq(key, n), 11)
	return string(appendPad(b, m.keys[key], n, pad))
}

// appendPad appends n base-62 digits drawn from x under key; it is not
// unique, only random-looking.
func appendPad(b []byte, key, x uint64, n int) []byte {
	for i := uint64(1); n > 0; i++ {
		k := min(n, 10) // 62^10 < 2^64: every digit is random
		b = appendBase62(b, mix(key+i, x), k)
		n -= k
	}
	return b
}

// phone is a valid mainland mobile number, 1[3-9] and nine digits.
func (m *idMaker) phone(n uint64) string {
	v := m.phones.at(n)
	b := make([]byte, 0, 11)
	b = append(b, '1', byte('3'+v/1_000_000_000))
	return string(appendDigits(b, int64(v%1_000_000_000), 9))
}

// device is a UUID-shaped anonymousId; its first 16 hex digits are the
// unique part.
func (m *idMaker) device(n uint64) string {
	const hex = "0123456789abcdef"
	u, r := m.uniq(keyDevice, n), mix(m.keys[keyDevice], n)
	var h [32]byte
	for i := range 16 {
		h[i] = hex[u>>(60-4*i)&15]
		h[16+i] = hex[r>>(60-4*i)&15]
	}
	h[16] = '4' // version nibble lands in the padding half
	b := make([]byte, 0, 36)
	b = append(b, h[0:8]...)
	b = append(b, '-')
	b = append(b, h[8:12]...)
	b = append(b, '-')
	b = append(b, h[12:16]...)
	b = append(b, '-')
	b = append(b, h[16:20]...)
	b = append(b, '-')
	return string(append(b, h[20:32]...))
}

func (m *idMaker) memberNo(n uint64) string {
	return string(appendDigits([]byte{'8'}, int64(m.members.at(n)), 11))
}

// orderID appends prefix and 16 digits unique for n, the household's
// number shifted left by 12 plus its order sequence.
func (m *idMaker) orderID(b []byte, prefix string, n uint64) []byte {
	b = append(b, prefix...)
	return appendDigits(b, int64(m.orders.at(n)), 16)
}

// messageID is unique per household item sequence (seq < 2^20).
func (m *idMaker) messageID(b []byte, prefix string, household, seq uint64) []byte {
	b = append(b, prefix...)
	u := m.uniq(keyMessage, household<<20|seq)
	const hex = "0123456789abcdef"
	for i := range 16 {
		b = append(b, hex[u>>(60-4*i)&15])
	}
	return b
}

// msgID is a chat-archive msgid, unique per household chat sequence.
func (m *idMaker) msgID(b []byte, household, seq uint64) []byte {
	b = append(b, "CAQQ"...)
	b = appendBase62(b, m.uniq(keyChat, household<<20|seq), 11)
	return append(b, "AE="...)
}
