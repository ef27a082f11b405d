//! Cutting copied values to a byte budget, on a UTF-8 character boundary.

use std::fmt::{self, Write as _};

/// The longest prefix of `value` that fits in `max_bytes` and ends on a character boundary.
/// Borrowed as is when it already fits (the common case costs one comparison).
#[inline]
pub(crate) fn cap(value: &str, max_bytes: usize) -> &str {
    if value.len() <= max_bytes {
        return value;
    }
    &value[..floor_char_boundary(value, max_bytes)]
}

/// [`cap`] for an owned string. A cut string gets a right-sized buffer: truncating alone would keep
/// the whole original allocation alive inside the span.
pub(crate) fn cap_string(mut value: String, max_bytes: usize) -> String {
    if value.len() > max_bytes {
        value.truncate(floor_char_boundary(&value, max_bytes));
        value.shrink_to_fit();
    }
    value
}

/// `value`'s `Display` text cut to `max_bytes`, formatted into a buffer that never grows past the
/// budget: an error whose message holds a 300 KB header costs `max_bytes`, not 300 KB.
pub(crate) fn cap_display(value: &(impl fmt::Display + ?Sized), max_bytes: usize) -> String {
    cap_display_cut(value, max_bytes).0
}

/// [`cap_display`], and whether the text was cut.
pub(crate) fn cap_display_cut(value: &(impl fmt::Display + ?Sized), max_bytes: usize) -> (String, bool) {
    let mut writer = CappedWriter { text: String::new(), max_bytes, cut: false };
    // `Err` only says the budget ran out (or the value's own `fmt` failed): keep what was written.
    let _ = write!(writer, "{value}");
    (writer.text, writer.cut)
}

struct CappedWriter {
    text: String,
    max_bytes: usize,
    cut: bool,
}

impl fmt::Write for CappedWriter {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        let room = self.max_bytes - self.text.len();
        let fits = cap(piece, room);
        self.text.push_str(fits);
        if fits.len() < piece.len() {
            self.cut = true;
            // The rest of the value is not formatted at all.
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// `str::floor_char_boundary`, which needs a newer compiler than the crate's minimum.
fn floor_char_boundary(value: &str, index: usize) -> usize {
    let mut end = index.min(value.len());
    // A UTF-8 character is at most 4 bytes: at most 3 steps back.
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_borrowed_whole() {
        let value = "curl/8";
        assert!(std::ptr::eq(cap(value, 6), value));
        assert_eq!(cap(value, 100), "curl/8");
        assert_eq!(cap("", 0), "");
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        assert_eq!(cap("abcdef", 3), "abc");
        assert_eq!(cap("abcdef", 0), "");
        // `é` is 2 bytes, `€` 3, `𝄞` 4: a budget ending inside one drops the whole character.
        assert_eq!(cap("héllo", 2), "h");
        assert_eq!(cap("héllo", 3), "hé");
        assert_eq!(cap("a€", 3), "a");
        assert_eq!(cap("a𝄞b", 4), "a");
        assert_eq!(cap("a𝄞b", 5), "a𝄞");
        for max in 0..12 {
            let cut = cap("ü€𝄞x", max);
            assert!(cut.len() <= max, "{max}: {cut:?}");
        }
    }

    #[test]
    fn owned_values_are_cut_and_their_buffer_shrinks() {
        let long = "x".repeat(300 * 1024);
        let cut = cap_string(long, 512);
        assert_eq!(cut.len(), 512);
        assert!(cut.capacity() < 1024, "capacity {} kept the original buffer", cut.capacity());
        assert_eq!(cap_string("hé".to_owned(), 2), "h");
        assert_eq!(cap_string("ok".to_owned(), 2), "ok");
    }

    #[test]
    fn display_text_is_formatted_within_the_budget() {
        struct Pieces;
        impl fmt::Display for Pieces {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for _ in 0..100_000 {
                    f.write_str("ab€")?;
                }
                Ok(())
            }
        }
        let text = cap_display(&Pieces, 10);
        assert_eq!(text, "ab€ab€");
        assert!(text.capacity() <= 64, "capacity {}", text.capacity());
        assert_eq!(cap_display("short", 10), "short");
        assert_eq!(cap_display(&format_args!("{}-{}", 1, 2), 2), "1-");
    }
}
