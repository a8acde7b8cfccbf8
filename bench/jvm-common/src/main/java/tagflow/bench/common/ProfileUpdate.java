package tagflow.bench.common;

/** A user's profile after one event, and what that event changed, to the Redis output. */
public final class ProfileUpdate {
    public String user;
    public UserProfile profile;
    /** The tags whose scores the event changed. */
    public String[] tags;
    /** Whether the event was a purchase (the user's purchased set may have grown). */
    public boolean purchased;

    public ProfileUpdate() {}

    public ProfileUpdate(String user, UserProfile profile, ProfileEvent event) {
        this.user = user;
        this.profile = profile;
        this.tags = event.tags;
        this.purchased = event.type == Event.PURCHASE;
    }
}
