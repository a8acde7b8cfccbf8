package tagflow.bench.flink;

/** A user's profile after a change, from the profile operator to its Redis sink. */
public final class ProfileUpdate {
    public String user;
    public UserProfile profile;

    public ProfileUpdate() {}

    public ProfileUpdate(String user, UserProfile profile) {
        this.user = user;
        this.profile = profile;
    }
}
