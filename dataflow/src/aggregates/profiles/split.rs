//! Splitting the profile operator's output into its two consumers' streams.
//!
//! The profile operator is where duplicates are recognised, so everything
//! downstream of a count takes its input from there: the unique visitors
//! the views, the leaderboards' tag weights every counted event. timely's
//! `Partition` gives every part one record type; this operator gives each
//! its own, moving every record once.

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::ProfileOutput;
use crate::records::{ProfileEvent, Visit};

/// The views and the counted events of `output`, each in the epoch it came in.
pub fn split<'scope>(
    output: Stream<'scope, u64, Vec<ProfileOutput>>,
) -> (Stream<'scope, u64, Vec<Visit>>, Stream<'scope, u64, Vec<ProfileEvent>>) {
    let mut builder = OperatorBuilder::new("SplitProfileOutput".to_owned(), output.scope());
    let mut input = builder.new_input(output, Pipeline);
    let (mut visits, visit_stream) = builder.new_output::<Vec<Visit>>();
    let (mut counted, counted_stream) = builder.new_output::<Vec<ProfileEvent>>();
    builder.build(move |_capabilities| {
        move |_frontiers| {
            let mut visits = visits.activate();
            let mut counted = counted.activate();
            input.for_each_stamp(|capability, batches| {
                let (mut views, mut events) = (Vec::new(), Vec::new());
                for batch in batches {
                    for record in batch.drain(..) {
                        match record {
                            ProfileOutput::Visit(visit) => views.push(visit),
                            ProfileOutput::Counted(event) => events.push(event),
                        }
                    }
                }
                if !views.is_empty() {
                    visits.give(&capability, &mut views);
                }
                if !events.is_empty() {
                    counted.give(&capability, &mut events);
                }
            });
        }
    });
    (visit_stream, counted_stream)
}
