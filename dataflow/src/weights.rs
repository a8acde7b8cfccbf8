//! Event-type weights: how much each kind of event adds to a tag's score.

use std::fmt;
use std::str::FromStr;

use model::EventType;

/// Score added to each of an event's tags, per event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights([i64; 3]);

impl Default for Weights {
    /// view = 1, add_to_cart = 3, purchase = 5.
    fn default() -> Self {
        Self([1, 3, 5])
    }
}

impl Weights {
    /// The weight of `kind`.
    #[inline]
    pub fn of(&self, kind: EventType) -> i64 {
        self.0[kind.index()]
    }
}

/// Why a `--weights` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid weights {0:?}: expected three non-negative integers view,add_to_cart,purchase, e.g. 1,3,5"
)]
pub struct WeightsParseError(String);

impl FromStr for Weights {
    type Err = WeightsParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || WeightsParseError(s.to_owned());
        let parts: Vec<i64> =
            s.split(',').map(|p| p.trim().parse()).collect::<Result<_, _>>().map_err(|_| err())?;
        match parts[..] {
            // Non-negative weights keep scores monotone, so writing a user's
            // tag scores never needs deletes.
            [v, a, p] if v >= 0 && a >= 0 && p >= 0 => Ok(Self([v, a, p])),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.0[0], self.0[1], self.0[2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults() {
        assert_eq!("1,3,5".parse::<Weights>(), Ok(Weights::default()));
        assert_eq!(Weights::default().of(EventType::Purchase), 5);
        for bad in ["", "1,2", "1,-1,1", "a,b,c"] {
            assert!(bad.parse::<Weights>().is_err(), "{bad}");
        }
    }
}
