package statuspage

import "testing"

func TestMaskPhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"13812345678", "138****5678"},
		{" 13812345678 ", "138****5678"},
		{"138-1234-5678", "138-****-5678"},
		{"+86 13812345678", "+86 1******5678"},
		{"010-87654321", "010-****4321"}, // 11 digits: 3 and 4 shown, 4 hidden
		{"87654321", "********"},         // short: nothing shown
		{"5678", "****"},
		{"138****5678", "138****5678"},           // already masked: unchanged
		{"call 1381234567x", "**** *******567*"}, // letters are positions, never shown
		{"", ""},
	} {
		if got := MaskPhone(tc.in); got != tc.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"张伟", "张*"},
		{"欧阳娜娜", "欧***"},
		{"Zhang Wei", "Z***"},
		{"  李  ", "*"},
		{"张*", "张*"},
		{"", ""},
	} {
		if got := MaskName(tc.in); got != tc.want {
			t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"北京市朝阳区建国路88号SOHO现代城5号楼1203", "北京市朝阳区…"},
		{"上海市浦东新区世纪大道100号", "上海市浦东新…"},
		{"12 Elm Rd", "12 E…"}, // short: only the first half
		{"北京市朝阳区", "北京市…"},
		{"x", "…"},
		{"", ""},
	} {
		if got := MaskAddress(tc.in); got != tc.want {
			t.Errorf("MaskAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
