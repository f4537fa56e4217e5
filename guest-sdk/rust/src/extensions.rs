//! [`Extensions`]: values afterResponse middleware adds to a [`Response`],
//! one per type, for the code that made the request.
//!
//! Keyed by type rather than by a string name, so a value keeps its Rust
//! type from the middleware to the caller (no JSON round trip, no
//! matching on a `Value`), the compiler checks that the reader asks for
//! what the writer stored, and two middlewares cannot overwrite each
//! other's values by choosing the same name: each defines its own type.
//! Values never cross the WIT boundary, so nothing requires them to be
//! JSON.
//!
//! [`Response`]: crate::Response

use std::any::Any;
use std::fmt;

/// Values carried by a [`Response`](crate::Response) from afterResponse
/// middleware to the caller of `z.request`, at most one of each type (as
/// `http::Extensions`).
///
/// A value's type must be `Clone + PartialEq + Debug + 'static`, because a
/// response is cloned, compared and printed whole. Define a type of your
/// own for each thing you carry.
///
/// ```
/// use zapwasm_guest::prelude::*;
///
/// /// What the API said about its rate limit.
/// #[derive(Debug, Clone, PartialEq)]
/// struct RateLimit {
///     remaining: u32,
/// }
///
/// /// afterResponse: reads the rate-limit header once, for every request.
/// fn read_rate_limit(mut response: Response, _z: &Z, _bundle: &Bundle) -> Result<Response, ZError> {
///     if let Some(remaining) = response.get_header("x-ratelimit-remaining").and_then(|v| v.parse().ok()) {
///         response.extensions.insert(RateLimit { remaining });
///     }
///     Ok(response)
/// }
///
/// /// A create that slows down when the API says so.
/// fn add_item(z: &Z, bundle: &Bundle) -> Result<Value, ZError> {
///     let response = z.request(Request::post("https://api.example.com/items").json(json!(bundle.input_data)))?;
///     if let Some(RateLimit { remaining: 0 }) = response.extensions.get::<RateLimit>() {
///         z.console().warn("the API's rate limit is spent");
///     }
///     Ok(response.data.unwrap_or_default())
/// }
///
/// let app = App::new("1.0.0").after_response(read_rate_limit).create(
///     Create::new("add_item", "Item").operation(Operation::new().perform(add_item).sample(json!({"id": 1}))),
/// );
/// # let _ = app;
///
/// // The map itself:
/// let mut extensions = Extensions::new();
/// assert_eq!(extensions.insert(RateLimit { remaining: 9 }), None);
/// assert_eq!(extensions.insert(RateLimit { remaining: 8 }), Some(RateLimit { remaining: 9 }));
/// assert_eq!(extensions.get::<RateLimit>(), Some(&RateLimit { remaining: 8 }));
/// assert_eq!(extensions.get::<String>(), None);
/// ```
#[derive(Default)]
pub struct Extensions {
    /// In the order first inserted; a response carries few, so a list
    /// searched by type is as fast as a map and keeps `Debug` stable.
    values: Vec<Box<dyn Extension>>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Extensions {
        Extensions::default()
    }

    /// Stores `value`, returning the value of its type stored before, if any.
    pub fn insert<T: Clone + PartialEq + fmt::Debug + 'static>(&mut self, value: T) -> Option<T> {
        match self.get_mut::<T>() {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.values.push(Box::new(value));
                None
            }
        }
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.values.iter().find_map(|value| value.as_any().downcast_ref::<T>())
    }

    /// The value of type `T`, to change in place.
    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.values.iter_mut().find_map(|value| value.as_any_mut().downcast_mut::<T>())
    }

    /// Takes the value of type `T` out, if one was stored.
    pub fn remove<T: 'static>(&mut self) -> Option<T> {
        let index = self.values.iter().position(|value| value.as_any().is::<T>())?;
        let boxed: Box<dyn Any> = self.values.remove(index).into_any();
        boxed.downcast::<T>().ok().map(|value| *value)
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl Clone for Extensions {
    fn clone(&self) -> Extensions {
        Extensions { values: self.values.iter().map(|value| value.clone_box()).collect() }
    }
}

/// Equal when they hold the same types with equal values, in any order.
impl PartialEq for Extensions {
    fn eq(&self, other: &Extensions) -> bool {
        self.values.len() == other.values.len()
            && self.values.iter().all(|value| other.values.iter().any(|theirs| value.eq_any(theirs.as_any())))
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.values.iter().map(|value| value.as_debug())).finish()
    }
}

/// What [`Extensions`] needs of a stored value: `Any` for the lookup by
/// type, and the clone, comparison and printing a `Response` derives.
trait Extension {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    fn clone_box(&self) -> Box<dyn Extension>;
    fn eq_any(&self, other: &dyn Any) -> bool;
    fn as_debug(&self) -> &dyn fmt::Debug;
}

impl<T: Clone + PartialEq + fmt::Debug + 'static> Extension for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }

    fn eq_any(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }

    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Page(u32);

    #[derive(Debug, Clone, PartialEq)]
    struct Cursor(String);

    #[test]
    fn one_value_per_type_replaced_taken_and_compared() {
        let mut extensions = Extensions::new();
        assert!(extensions.is_empty());
        extensions.insert(Page(1));
        extensions.insert(Cursor("c1".into()));
        assert_eq!(extensions.insert(Page(2)), Some(Page(1)));
        assert_eq!(extensions.len(), 2);
        extensions.get_mut::<Page>().unwrap().0 += 1;
        assert_eq!(extensions.get::<Page>(), Some(&Page(3)));

        let copy = extensions.clone();
        assert_eq!(copy, extensions);
        let mut other_order = Extensions::new();
        other_order.insert(Cursor("c1".into()));
        other_order.insert(Page(3));
        assert_eq!(other_order, extensions, "order does not count");
        other_order.insert(Page(4));
        assert_ne!(other_order, extensions);
        assert_eq!(format!("{extensions:?}"), r#"[Page(3), Cursor("c1")]"#);

        assert_eq!(extensions.remove::<Page>(), Some(Page(3)));
        assert_eq!(extensions.remove::<Page>(), None);
        assert_eq!(extensions.get::<Cursor>(), Some(&Cursor("c1".into())));
        assert_eq!(copy.get::<Page>(), Some(&Page(3)), "a clone keeps its own values");
    }
}
