//! Running the body of a sync `#[traced]` function as a closure, so its `return` and `?` land in a
//! value the span can observe.

/// Calls `body` once and returns what it returned.
///
/// Taking `FnOnce` matters: a closure called in place (`(move || ..)()`) is inferred `FnMut`, and a
/// method returning a borrow of `self` (`fn get(&mut self) -> &mut T`) would then fail to compile.
/// The macro names `R` (`call_once::<u64, _>`) so the body is checked against the declared return
/// type, and a wrong value is reported on the user's line.
#[inline(always)]
pub fn call_once<R, F: FnOnce() -> R>(body: F) -> R {
    body()
}

#[cfg(test)]
mod tests {
    use super::call_once;

    struct Counter {
        value: u32,
    }

    impl Counter {
        fn value_mut(&mut self) -> &mut u32 {
            call_once(move || &mut self.value)
        }
    }

    #[test]
    fn a_borrow_of_a_captured_reference_escapes_the_body() {
        let mut counter = Counter { value: 1 };
        *counter.value_mut() += 1;
        assert_eq!(counter.value, 2);
    }
}
