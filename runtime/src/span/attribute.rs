//! Conversion of `attributes(...)` expressions into OpenTelemetry values.
//!
//! The macro passes every attribute expression by reference, so recording a parameter never moves it
//! out of the function body. A type that cannot become an OTel value fails to compile with the list of
//! accepted types, pointing at the user's expression.

use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::{Array, StringValue, Value};

/// A value that can be recorded as an OpenTelemetry span attribute.
///
/// Implemented for `bool`, every integer type, `f32`/`f64`, `String`, `&str`, `Cow<str>`, `Arc<str>`,
/// `Option<T>` of those (`None` records nothing) and `Vec`s, slices and arrays of the scalar types.
/// Integers that do not fit an `i64` (a large `u64`, `u128`) are recorded as their decimal string,
/// so nothing is lost.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as an OpenTelemetry attribute value",
    label = "this value's type is `{Self}`",
    note = "accepted: bool, integers, f32/f64, String, &str, Cow<str>, Option<T> of those, and Vec/slices/arrays of those scalars",
    note = "convert it first, e.g. `attributes(key = value.to_string())`"
)]
pub trait AttributeValue {
    /// The OpenTelemetry value, or `None` to record nothing.
    fn to_otel_value(&self) -> Option<Value>;
}

impl<T: AttributeValue + ?Sized> AttributeValue for &T {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        (**self).to_otel_value()
    }
}

impl<T: AttributeValue + ?Sized> AttributeValue for &mut T {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        (**self).to_otel_value()
    }
}

impl<T: AttributeValue> AttributeValue for Option<T> {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        self.as_ref().and_then(AttributeValue::to_otel_value)
    }
}

impl AttributeValue for bool {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}

macro_rules! lossless_ints {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            #[inline]
            fn to_otel_value(&self) -> Option<Value> {
                Some(Value::I64(i64::from(*self)))
            }
        }
    )*};
}
lossless_ints!(i8, i16, i32, i64, u8, u16, u32);

macro_rules! wide_ints {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            #[inline]
            fn to_otel_value(&self) -> Option<Value> {
                Some(wide_int_value(i64::try_from(*self).ok(), self))
            }
        }
    )*};
}
wide_ints!(u64, u128, i128, usize, isize);

#[cold]
fn wide_int_string(value: &dyn std::fmt::Display) -> Value {
    Value::String(value.to_string().into())
}

#[inline]
fn wide_int_value(fits: Option<i64>, value: &dyn std::fmt::Display) -> Value {
    match fits {
        Some(v) => Value::I64(v),
        None => wide_int_string(value),
    }
}

impl AttributeValue for f64 {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::F64(*self))
    }
}

impl AttributeValue for f32 {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::F64(f64::from(*self)))
    }
}

impl AttributeValue for str {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::String(self.to_owned().into()))
    }
}

impl AttributeValue for String {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::String(self.clone().into()))
    }
}

impl AttributeValue for Cow<'_, str> {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::String(self.as_ref().to_owned().into()))
    }
}

impl AttributeValue for Arc<str> {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::String(StringValue::from(Arc::clone(self))))
    }
}

impl AttributeValue for Value {
    #[inline]
    fn to_otel_value(&self) -> Option<Value> {
        Some(self.clone())
    }
}

/// Scalars that may stand inside an array attribute (OTel arrays are homogeneous).
pub trait ArrayElement {
    /// Collects a slice of this type into an OTel array.
    fn to_array(items: &[Self]) -> Array
    where
        Self: Sized;
}

macro_rules! array_elements {
    ($variant:ident, $($t:ty => $conv:expr),*) => {$(
        impl ArrayElement for $t {
            fn to_array(items: &[Self]) -> Array {
                #[allow(clippy::redundant_closure_call)]
                Array::$variant(items.iter().map(|v| ($conv)(v)).collect())
            }
        }
    )*};
}
array_elements!(Bool, bool => |v: &bool| *v);
array_elements!(I64, i8 => |v: &i8| i64::from(*v), i16 => |v: &i16| i64::from(*v),
    i32 => |v: &i32| i64::from(*v), i64 => |v: &i64| *v, u8 => |v: &u8| i64::from(*v),
    u16 => |v: &u16| i64::from(*v), u32 => |v: &u32| i64::from(*v));
array_elements!(F64, f64 => |v: &f64| *v, f32 => |v: &f32| f64::from(*v));
array_elements!(String, String => |v: &String| StringValue::from(v.clone()),
    &str => |v: &&str| StringValue::from((*v).to_owned()),
    Cow<'_, str> => |v: &Cow<'_, str>| StringValue::from(v.as_ref().to_owned()));

impl<T: ArrayElement> AttributeValue for [T] {
    fn to_otel_value(&self) -> Option<Value> {
        Some(Value::Array(T::to_array(self)))
    }
}

impl<T: ArrayElement> AttributeValue for Vec<T> {
    fn to_otel_value(&self) -> Option<Value> {
        self.as_slice().to_otel_value()
    }
}

impl<T: ArrayElement, const N: usize> AttributeValue for [T; N] {
    fn to_otel_value(&self) -> Option<Value> {
        self.as_slice().to_otel_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_that_fit_are_i64_and_others_are_decimal_strings() {
        assert_eq!(7u64.to_otel_value(), Some(Value::I64(7)));
        assert_eq!(u64::MAX.to_otel_value(), Some(Value::String("18446744073709551615".into())));
        assert_eq!((-3i8).to_otel_value(), Some(Value::I64(-3)));
    }

    #[test]
    fn options_record_nothing_when_none() {
        assert_eq!(None::<u8>.to_otel_value(), None);
        assert_eq!(Some("x").to_otel_value(), Some(Value::String("x".into())));
    }

    #[test]
    fn arrays_keep_their_element_type() {
        assert_eq!(vec![1u8, 2].to_otel_value(), Some(Value::Array(Array::I64(vec![1, 2]))));
        assert_eq!(["a", "b"].to_otel_value(), Some(Value::Array(Array::String(vec!["a".into(), "b".into()]))));
        assert_eq!([true].to_otel_value(), Some(Value::Array(Array::Bool(vec![true]))));
        assert_eq!(vec![1.5f32].to_otel_value(), Some(Value::Array(Array::F64(vec![1.5]))));
    }

    #[test]
    fn strings_of_every_shape() {
        let cow: Cow<'_, str> = Cow::Borrowed("c");
        assert_eq!(cow.to_otel_value(), Some(Value::String("c".into())));
        assert_eq!(String::from("s").to_otel_value(), Some(Value::String("s".into())));
        assert_eq!(2.5f64.to_otel_value(), Some(Value::F64(2.5)));
    }
}
