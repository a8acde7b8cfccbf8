package tagflow.bench.flink;

import tagflow.bench.common.Event;

/** What the Kafka source emits: a valid event, or the dead letter of an invalid message. */
public final class ParsedMessage {
    public Event event;
    public DeadLetter deadLetter;

    public ParsedMessage() {}

    static ParsedMessage valid(Event event) {
        ParsedMessage m = new ParsedMessage();
        m.event = event;
        return m;
    }

    static ParsedMessage invalid(DeadLetter deadLetter) {
        ParsedMessage m = new ParsedMessage();
        m.deadLetter = deadLetter;
        return m;
    }
}
