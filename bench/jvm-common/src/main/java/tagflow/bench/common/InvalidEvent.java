package tagflow.bench.common;

/**
 * A message that is not a valid event, with tagflow's reason code
 * ({@code model::EventError::reason}), which goes into its dead letter's
 * {@code reason} header.
 */
public final class InvalidEvent extends Exception {
    private static final long serialVersionUID = 1L;

    private final String reason;

    public InvalidEvent(String reason, String detail) {
        super(detail, null, false, false); // no stack trace: this is an expected outcome
        this.reason = reason;
    }

    /** One of oversize, malformed_json, schema, unknown_event_type, invalid_tags, empty_field, control_character, timestamp_out_of_range. */
    public String reason() {
        return reason;
    }
}
