package tagflow.bench.kstreams;

import tagflow.bench.common.Event;
import tagflow.bench.common.InvalidEvent;

/**
 * A message after parsing: a valid event, or why it is invalid and its raw
 * bytes. Stays in the task (no serde).
 */
record Parsed(Event event, InvalidEvent invalid, byte[] raw) {}
