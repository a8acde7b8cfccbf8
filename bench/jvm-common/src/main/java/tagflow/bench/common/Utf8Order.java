package tagflow.bench.common;

/**
 * Compares strings by Unicode code point, which is the byte order of their
 * UTF-8 encodings: the order Rust uses for {@code str}. {@link String#compareTo}
 * compares UTF-16 units and differs for characters beyond U+FFFF.
 */
final class Utf8Order {
    private Utf8Order() {}

    static int compare(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
