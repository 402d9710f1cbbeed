package address

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parts is a receiver's (or sender's) address as the carrier gets it.
type Parts struct {
	Name, Mobile, Phone, Province, City, District, Street, Postcode string
}

// FieldError says which field cannot be made valid and why, e.g. "receiver_mobile: ***4567 is
// not a mainland mobile number (11 digits starting 1[3-9])". Field is the canonical column name
// (receiver_name, receiver_mobile, receiver_phone, receiver_province, receiver_city,
// receiver_address). Reason never carries a whole phone number or street: it ends up in
// dead-letter records and logs.
type FieldError struct {
	Field, Reason string
}

// Error returns Field and Reason.
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// The canonical column names a FieldError names. Normalize is not told whether it cleans a
// sender or a receiver; the receiver is the one that goes wrong in practice.
const (
	fieldName     = "receiver_name"
	fieldMobile   = "receiver_mobile"
	fieldPhone    = "receiver_phone"
	fieldProvince = "receiver_province"
	fieldCity     = "receiver_city"
	fieldStreet   = "receiver_address"
)

// Normalize returns p cleaned the way Kdniao accepts it, or a *FieldError naming the first field
// that cannot be made valid (and a zero Parts). It is idempotent: Normalize of its own output
// returns that output unchanged.
//
// Every field has its whitespace (tabs, newlines, U+3000) folded to single spaces and trimmed,
// control characters removed and full-width letters and digits made ASCII. In the name, the
// street and the division names the characters that break signatures and parsers on the
// carrier's side (' " # & + < > % \ and their full-width twins) become spaces, except that a #
// after a digit becomes 号 ("3#楼" is 3号楼).
//
//   - Province: any spelling Province knows becomes Kdniao's name (广东省, 北京, 广西壮族自治区);
//     an empty province is taken from a municipality's city. Anything else is an error.
//   - City: a municipality's city is "<municipality>市" (北京市); elsewhere a bare Chinese name
//     gets 市 (深圳 is 深圳市), names that already end in 市, 自治州, 盟, 地区, 林区 or 县, and the
//     省直辖县级行政区划 placeholders, are kept, as are Latin names and the cities of Hong Kong and
//     Macau (九龙, 离岛: they have no suffix to add). A city that ends in 区 is a district put in
//     the wrong column and an error, since the city it belongs to cannot be guessed.
//   - District: kept as it is once cleaned. A bare name (朝阳) is passed through because nothing
//     here can tell 区 from 县 or 市; the carrier resolves it from the street.
//   - Street: the province, city and district repeated at its start are removed (广东深圳南山区
//     科技园 is 科技园), unless nothing would be left.
//   - Mobile and Phone: see numbers.
//   - Postcode: six digits, or dropped; it is optional, so never an error.
func Normalize(p Parts) (Parts, error) {
	out := Parts{
		Name:     clean(p.Name),
		Province: Province(clean(p.Province)),
		City:     joinHan(clean(p.City)),
		District: joinHan(clean(p.District)),
		Street:   clean(p.Street),
		Postcode: postcode(p.Postcode),
	}
	if out.Name == "" {
		return Parts{}, &FieldError{fieldName, "empty"}
	}
	var err error
	if out.Mobile, out.Phone, err = numbers(p.Mobile, p.Phone); err != nil {
		return Parts{}, err
	}

	if out.Province == "" && municipality(Province(out.City)) {
		out.Province = Province(out.City)
	}
	switch {
	case out.Province == "":
		return Parts{}, &FieldError{fieldProvince, "empty, and the city is not a municipality"}
	case !known(out.Province):
		return Parts{}, &FieldError{fieldProvince, out.Province + " is not a provincial-level division of China"}
	}

	provinceSpellings := provinceNames(out.Province)
	var moved string
	if out.City, moved, err = kdniaoCity(out.Province, out.City, provinceSpellings); err != nil {
		return Parts{}, err
	}
	if moved != "" {
		// A municipality's city column held something below the city (浦东新区): keep it
		// where the carrier will read it rather than drop it.
		switch {
		case out.District == "":
			out.District = moved
		case moved != out.District:
			out.Street = strings.TrimSpace(moved + " " + out.Street)
		}
	}
	citySpellings := cityNames(out.City)
	out.District = stripDivisions(out.District, slices.Concat(provinceSpellings, citySpellings))
	out.Street = stripDivisions(out.Street, slices.Concat(provinceSpellings, citySpellings, districtNames(out.District)))
	switch {
	case fold(p.Street) == "":
		return Parts{}, &FieldError{fieldStreet, "empty"}
	case out.Street == "":
		return Parts{}, &FieldError{fieldStreet, "empty after removing characters the carrier refuses"}
	}
	return out, nil
}

// Suffixes of division names. A city name is complete when it ends in one of citySuffixes (县
// for Taiwan's counties and the 自治县 shops file as cities: 市 after them is never right); a
// district name when it ends in one of districtSuffixes.
var (
	citySuffixes     = []string{"市", "自治州", "盟", "地区", "林区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
	districtSuffixes = []string{"街道", "区", "县", "市", "旗", "镇", "乡"}
	provinceSuffixes = []string{"特别行政区", "自治区", "省", "市"}
)

// kdniaoCity returns the city as Kdniao names it, and for a municipality whatever else its city
// column held (moved) so that the caller can keep it.
func kdniaoCity(province, name string, provinceSpellings []spelling) (city, moved string, err error) {
	if municipality(province) {
		switch {
		case name == "", Province(name) == province, name == "市辖区", name == "县", name == "城区":
		default:
			moved = name
		}
		return province + "市", moved, nil
	}
	name = stripDivisions(name, provinceSpellings)
	switch {
	case name == "":
		return "", "", &FieldError{fieldCity, "empty (Kdniao needs the city, e.g. 深圳市)"}
	case province == "香港特别行政区" || province == "澳门特别行政区", !hasHan(name), hasSuffix(name, citySuffixes):
		return name, "", nil
	case strings.HasSuffix(name, "区"):
		return "", "", &FieldError{fieldCity, name + " is a district, not a city"}
	}
	return name + "市", "", nil
}

// known reports whether name is Kdniao's name of a provincial-level division.
func known(name string) bool {
	for _, d := range divisions {
		if d.name == name {
			return true
		}
	}
	return false
}

// municipality reports whether province is one of the four municipalities, whose cities are
// the municipality itself.
func municipality(province string) bool {
	switch province {
	case "北京", "上海", "天津", "重庆":
		return true
	}
	return false
}

// spelling is a division's name as it may be repeated in front of a street. Only a complete
// name (full) ends a repetition: 广州 alone may be the start of 广州大道, 广州市 may not.
type spelling struct {
	text string
	full bool
}

// provinceNames returns the Chinese names of the province Kdniao calls name: 广东省 and 广东;
// 北京市 and 北京; 广西壮族自治区, 广西自治区 and 广西.
func provinceNames(name string) []spelling {
	for _, d := range divisions {
		if d.name != name {
			continue
		}
		var out []spelling
		for _, n := range append([]string{d.name}, d.aliases...) {
			if hasHan(n) {
				out = append(out, spelling{n, hasSuffix(n, provinceSuffixes)})
			}
		}
		return out
	}
	return nil
}

// cityNames returns city and its short name without 市, 地区 or 盟 (深圳市, 深圳).
func cityNames(city string) []spelling {
	return names(city, citySuffixes, "市", "地区", "盟")
}

// districtNames returns district and its short name (南山区, 南山). A bare district is only
// ever short: 朝阳 may start 朝阳路.
func districtNames(district string) []spelling {
	return names(district, districtSuffixes, districtSuffixes...)
}

// names returns name, full when it ends in one of complete, and its short form without the
// first of trim it ends in.
func names(name string, complete []string, trim ...string) []spelling {
	if !hasHan(name) {
		return nil
	}
	out := []spelling{{name, hasSuffix(name, complete)}}
	if short := trimSuffix(name, trim...); short != name {
		out = append(out, spelling{short, false})
	}
	return out
}

// trimSuffix removes the first of suffixes s ends in, unless fewer than two characters would be
// left.
func trimSuffix(s string, suffixes ...string) string {
	for _, suf := range suffixes {
		if t, ok := strings.CutSuffix(s, suf); ok && utf8.RuneCountInString(t) >= 2 {
			return t
		}
	}
	return s
}

// stripDivisions removes from the start of s the longest run of spellings (with separators
// between them) that ends in a complete name, so "广东深圳南山区科技园" and "深圳市深圳市科技园" lose
// their divisions but "深圳湾一号" keeps 深圳. It returns s when nothing would be left.
func stripDivisions(s string, spellings []spelling) string {
	cut, i := 0, 0
	for {
		i += len(s[i:]) - len(strings.TrimLeftFunc(s[i:], separator))
		n, full := longestPrefix(s[i:], spellings)
		if n == 0 {
			break
		}
		i += n
		if full {
			cut = i
		}
	}
	rest := strings.TrimLeftFunc(s[cut:], separator)
	if cut == 0 || rest == "" {
		return s
	}
	return rest
}

// longestPrefix returns the length of the longest spelling s starts with, and whether it is
// full.
func longestPrefix(s string, spellings []spelling) (n int, full bool) {
	for _, sp := range spellings {
		if strings.HasPrefix(s, sp.text) && (len(sp.text) > n || len(sp.text) == n && sp.full) {
			n, full = len(sp.text), sp.full
		}
	}
	return n, full
}

func separator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(",，、-/", r)
}

// clean folds whitespace, removes control and format characters (zero-width spaces, BOMs pasted
// with an address), makes full-width letters and digits ASCII and replaces the characters the
// carrier refuses.
func clean(s string) string {
	var b strings.Builder
	var prev rune
	for _, r := range fold(s) {
		h := halfWidth(r)
		switch {
		case h == '#' && '0' <= prev && prev <= '9':
			r = '号'
		case strings.ContainsRune(`'"#&+<>%\`, h):
			r = ' '
		case h < utf8.RuneSelf && (unicode.IsLetter(h) || unicode.IsDigit(h)):
			r = h
		}
		b.WriteRune(r)
		prev = r
	}
	return fold(b.String())
}

// fold turns every run of whitespace into one space, trims the ends and drops control and
// format characters.
func fold(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			// dropped: invisible, and Kdniao refuses control characters in addresses
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
	}
	return b.String()
}

// joinHan drops the spaces between two Chinese characters: division names have none, and
// "深圳 市" must meet 深圳市.
func joinHan(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if r == ' ' && i > 0 && i < len(rs)-1 && unicode.Is(unicode.Han, rs[i-1]) && unicode.Is(unicode.Han, rs[i+1]) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// halfWidth maps a full-width ASCII variant (U+FF01..U+FF5E) to ASCII.
func halfWidth(r rune) rune {
	if 0xFF01 <= r && r <= 0xFF5E {
		return r - 0xFEE0
	}
	return r
}

func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

func hasSuffix(s string, suffixes []string) bool {
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}

// postcode returns the six digits of s, or "" when s is not a Chinese postcode.
func postcode(s string) string {
	d := digits(s)
	if len(d) != 6 {
		return ""
	}
	return d
}

// digits returns the ASCII and full-width digits of s, as ASCII.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r = halfWidth(r); '0' <= r && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// numbers returns the mobile and phone Kdniao gets from the ones a shop stored. Kdniao needs
// one of them valid: a mainland mobile (11 digits starting 1[3-9], after dropping spaces,
// dashes, dots, parentheses and a +86, 0086 or 86 prefix), or a phone that is a landline
// (0755-86001234, 010-12345678-123 for an extension written 转123), a 400/800 number
// (400-123-4567) or a mobile. A landline in the mobile column moves to the phone, a mobile in the
// phone column to the mobile; a number that is not valid is dropped when the other one is,
// since a bad Tel makes Kdniao refuse the whole waybill. With neither valid the error shows only
// the last four digits: the reason goes to dead letters and logs.
func numbers(rawMobile, rawPhone string) (mobile, phone string, err error) {
	mk, m := number(rawMobile)
	pk, p := number(rawPhone)
	if mk == noNumber && pk == noNumber {
		return "", "", &FieldError{fieldMobile, "no mobile or phone number"}
	}
	if mk == mobileNumber {
		mobile = m
	}
	switch pk {
	case landlineNumber:
		phone = p
	case mobileNumber:
		if mobile == "" {
			mobile = p
		} else {
			phone = p
		}
	}
	if mk == landlineNumber && phone == "" {
		phone = m
	}
	switch {
	case mobile != "" || phone != "":
		return mobile, phone, nil
	case mk != noNumber:
		return "", "", &FieldError{fieldMobile, mask(rawMobile) + " is not a mainland mobile number (11 digits starting 1[3-9])"}
	default:
		return "", "", &FieldError{fieldPhone, mask(rawPhone) + " is not a phone number (area code and number like 010-12345678, or a 400/800 number)"}
	}
}

// numberKind is what a stored phone number turned out to be.
type numberKind int

const (
	noNumber numberKind = iota
	invalidNumber
	mobileNumber
	landlineNumber // landlines and 400/800 numbers
)

// number returns what s is and, for a valid number, the form Kdniao gets.
func number(s string) (numberKind, string) {
	var b strings.Builder
	for _, r := range fold(s) {
		if r != ' ' {
			b.WriteRune(halfWidth(r))
		}
	}
	s = b.String()
	if s == "" {
		return noNumber, ""
	}
	if m, ok := mainlandMobile(s); ok {
		return mobileNumber, m
	}
	if l, ok := landline(s); ok {
		return landlineNumber, l
	}
	return invalidNumber, ""
}

// mainlandMobile returns s as 11 digits when it is a mainland mobile number.
func mainlandMobile(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune("-.()", r) {
			return -1
		}
		return r
	}, s)
	switch {
	case strings.HasPrefix(s, "+86"):
		s = s[3:]
	case strings.HasPrefix(s, "0086"):
		s = s[4:]
	case strings.HasPrefix(s, "86") && len(s) == 13:
		s = s[2:]
	}
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' || !allDigits(s) {
		return "", false
	}
	return s, true
}

// landline returns s as area code, number and extension joined by dashes (0755-86001234,
// 010-12345678-123), or a 400/800 number as 400-123-4567, when s is one. s has no spaces.
func landline(s string) (string, bool) {
	main, ext := s, ""
	lower := strings.Map(func(r rune) rune { // ASCII only, so that byte offsets stay those of s
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
	for _, marker := range []string{"转", "分机", "ext.", "ext", "x"} {
		if i := strings.Index(lower, marker); i >= 0 {
			main, ext = s[:i], s[i+len(marker):]
			if ext == "" || len(ext) > 6 || !allDigits(ext) {
				return "", false
			}
			break
		}
	}
	international := false
	for _, prefix := range []string{"+86", "0086", "(+86)", "(0086)"} {
		if rest, ok := strings.CutPrefix(main, prefix); ok {
			main, international = rest, true
			break
		}
	}
	if strings.Trim(main, "0123456789-.()/") != "" {
		return "", false
	}
	groups := strings.FieldsFunc(main, func(r rune) bool { return r < '0' || r > '9' })
	join := func(gs []string) string {
		d := strings.Join(gs, "")
		if international && !strings.HasPrefix(d, "0") && !strings.HasPrefix(d, "400") && !strings.HasPrefix(d, "800") {
			d = "0" + d // +86 755 ... drops the trunk 0 of the area code
		}
		return d
	}
	d := join(groups)
	if _, ok := splitLandline(d); !ok && ext == "" && len(groups) > 1 {
		// 010-12345678-123: the last group is an extension.
		if last := groups[len(groups)-1]; len(last) <= 6 {
			if _, ok := splitLandline(join(groups[:len(groups)-1])); ok {
				d, ext = join(groups[:len(groups)-1]), last
			}
		}
	}
	out, ok := splitLandline(d)
	if !ok {
		return "", false
	}
	if ext != "" {
		out += "-" + ext
	}
	return out, true
}

// splitLandline returns the digits d with dashes where Kdniao's own examples put them, when d is
// a landline (area code 0 and 2 or 3 digits, 010 and 02x being the short ones, then 7 or 8 digits
// not starting 0) or a 400/800 number.
func splitLandline(d string) (string, bool) {
	if !allDigits(d) {
		return "", false
	}
	if len(d) == 10 && (strings.HasPrefix(d, "400") || strings.HasPrefix(d, "800")) {
		return d[:3] + "-" + d[3:6] + "-" + d[6:], true
	}
	if len(d) < 10 || d[0] != '0' {
		return "", false
	}
	area := 4
	if d[1] == '1' || d[1] == '2' {
		area = 3
	}
	rest := d[area:]
	if len(rest) > 8 || len(rest) < 7 || rest[0] == '0' {
		return "", false
	}
	return d[:area] + "-" + rest, true
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// mask hides all but the last four digits of a phone number: "***4567".
func mask(s string) string {
	d := digits(s)
	if len(d) > 4 {
		d = d[len(d)-4:]
	}
	return "***" + d
}
