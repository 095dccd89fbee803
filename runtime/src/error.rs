//! The message behind a non-zero status: generated code calls
//! [`pj_rt_fail`] with a message template and two numbers; callers read it
//! back with `pj_last_error()` (C) or [`last_error`] (Rust). Per thread, so
//! concurrent calls on different threads do not mix their messages.

use std::cell::RefCell;
use std::ffi::{CString, c_char};

thread_local! {
    static LAST: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Fills `{0}` and `{1}` in a message template.
pub fn format_message(template: &str, a: i64, b: i64) -> String {
    template
        .replace("{0}", &a.to_string())
        .replace("{1}", &b.to_string())
}

/// Records the message for `code` on this thread and returns `code`, so
/// generated code can `return pj_rt_fail(...)`.
///
/// # Safety
/// `msg` must point to `len` readable bytes (UTF-8; invalid bytes are replaced).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pj_rt_fail(code: i32, msg: *const u8, len: usize, a: i64, b: i64) -> i32 {
    let template = if msg.is_null() {
        String::new()
    } else {
        // SAFETY: the caller passes a static message of `len` bytes.
        String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(msg, len) }).into_owned()
    };
    set_error(&format_message(&template, a, b));
    code
}

/// Records a message for this thread.
pub fn set_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST.with(|l| *l.borrow_mut() = Some(c));
}

/// The last message recorded on this thread.
pub fn last_error() -> Option<String> {
    LAST.with(|l| {
        l.borrow()
            .as_ref()
            .map(|c| c.to_string_lossy().into_owned())
    })
}

/// C: the last message recorded on this thread, or NULL. Valid until the
/// next failing call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn pj_last_error() -> *const c_char {
    LAST.with(|l| l.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_record_a_formatted_message_per_thread() {
        let msg = b"size `K` is {0} but {1}";
        let code = unsafe { pj_rt_fail(1, msg.as_ptr(), msg.len(), 19, 7) };
        assert_eq!(code, 1);
        assert_eq!(last_error().as_deref(), Some("size `K` is 19 but 7"));
        let other = std::thread::spawn(last_error).join().unwrap();
        assert_eq!(other, None);
    }
}
