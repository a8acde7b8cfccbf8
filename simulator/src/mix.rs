//! `--mix view,add_to_cart,purchase`: the share of each event type.

use std::fmt;
use std::str::FromStr;

use model::EventType;

/// Relative weights of the event types, normalised to probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    view: f64,
    add_to_cart: f64,
}

impl Default for Mix {
    /// About 80 % views, 15 % add-to-cart, 5 % purchases.
    fn default() -> Self {
        Self { view: 0.80, add_to_cart: 0.15 }
    }
}

impl Mix {
    /// The mix for the events after a session's first, given that every
    /// session opens with a view and sessions average `mean_len` events, so
    /// that the overall shares still match `self`.
    pub fn after_opening_view(&self, mean_len: f64) -> Mix {
        if mean_len <= 1.0 || self.view * mean_len < 1.0 {
            return *self;
        }
        let rest = mean_len - 1.0;
        Mix {
            view: (self.view * mean_len - 1.0) / rest,
            add_to_cart: self.add_to_cart * mean_len / rest,
        }
    }

    /// Whether sessions can open with a view without distorting the shares.
    pub fn opens_with_view(&self, mean_len: f64) -> bool {
        mean_len > 1.0 && self.view * mean_len >= 1.0
    }

    /// The event type for a uniform draw `u` in `[0, 1)`.
    pub fn pick(&self, u: f64) -> EventType {
        if u < self.view {
            EventType::View
        } else if u < self.view + self.add_to_cart {
            EventType::AddToCart
        } else {
            EventType::Purchase
        }
    }
}

/// Why a `--mix` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid mix {0:?}: expected three non-negative numbers view,add_to_cart,purchase \
     with a positive sum, e.g. 80,15,5"
)]
pub struct MixParseError(String);

impl FromStr for Mix {
    type Err = MixParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MixParseError(s.to_owned());
        let parts: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| err())?;
        let [view, add_to_cart, purchase] = parts[..] else { return Err(err()) };
        let total = view + add_to_cart + purchase;
        if [view, add_to_cart, purchase].iter().any(|w| !w.is_finite() || *w < 0.0) || total <= 0.0
        {
            return Err(err());
        }
        Ok(Self { view: view / total, add_to_cart: add_to_cart / total })
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let purchase = 1.0 - self.view - self.add_to_cart;
        write!(f, "{},{},{}", self.view * 100.0, self.add_to_cart * 100.0, purchase * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let mix: Mix = "8,1.5,0.5".parse().unwrap();
        assert_eq!(mix.pick(0.79), EventType::View);
        assert_eq!(mix.pick(0.81), EventType::AddToCart);
        assert_eq!(mix.pick(0.96), EventType::Purchase);
        for bad in ["", "1,2", "1,2,3,4", "-1,1,1", "0,0,0", "a,b,c"] {
            assert!(bad.parse::<Mix>().is_err(), "{bad}");
        }
    }
}
