//! Redis commands encoded straight into one buffer, ready to send.
//!
//! The job writes hundreds of thousands of commands per second during a
//! catch-up. Building a `redis::Cmd` per command costs two allocations and
//! a second copy when the pipeline is encoded; [`RespCommands`] appends each
//! command's RESP encoding to one buffer per batch instead, and the writer
//! thread sends that buffer as it is.

/// A sequence of Redis commands in RESP (the protocol's wire encoding).
#[derive(Debug, Default)]
pub struct RespCommands {
    bytes: Vec<u8>,
    commands: usize,
}

impl RespCommands {
    /// No commands.
    pub fn new() -> Self {
        Self::default()
    }

    /// No commands, with room for `bytes` of them: a batch sized like the
    /// previous one is built without growing (each growth of a large
    /// buffer copies it and faults in fresh pages).
    pub fn with_capacity(bytes: usize) -> Self {
        Self { bytes: Vec::with_capacity(bytes), commands: 0 }
    }

    /// Bytes the buffer holds without growing.
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Removes every command, keeping the buffer.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.commands = 0;
    }

    /// Starts a command of `args` arguments (the name included) with its
    /// name; exactly `args - 1` [`Self::arg`]s or [`Self::arg_int`]s follow.
    pub fn command(&mut self, args: usize, name: &str) -> &mut Self {
        self.bytes.push(b'*');
        self.push_decimal(args as u64);
        self.bytes.extend_from_slice(b"\r\n");
        self.commands += 1;
        self.arg(name.as_bytes())
    }

    /// Appends a bulk-string argument.
    pub fn arg(&mut self, value: &[u8]) -> &mut Self {
        self.bytes.push(b'$');
        self.push_decimal(value.len() as u64);
        self.bytes.extend_from_slice(b"\r\n");
        self.bytes.extend_from_slice(value);
        self.bytes.extend_from_slice(b"\r\n");
        self
    }

    /// Appends an integer argument (as its decimal text, like `redis::Cmd`).
    pub fn arg_int(&mut self, value: i64) -> &mut Self {
        let mut buf = [0_u8; DECIMAL_MAX];
        self.arg(decimal(value.unsigned_abs(), value < 0, &mut buf))
    }

    /// Appends every command of `other`.
    pub fn append(&mut self, other: &Self) {
        self.bytes.extend_from_slice(&other.bytes);
        self.commands += other.commands;
    }

    /// The encoded commands.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many commands were started.
    pub fn len(&self) -> usize {
        self.commands
    }

    /// Whether no command was started.
    pub fn is_empty(&self) -> bool {
        self.commands == 0
    }

    fn push_decimal(&mut self, value: u64) {
        let mut buf = [0_u8; DECIMAL_MAX];
        self.bytes.extend_from_slice(decimal(value, false, &mut buf));
    }
}

/// Longest decimal text of a 64-bit integer: 20 digits, or a sign and 19.
const DECIMAL_MAX: usize = 20;

/// The decimal text of `magnitude`, after a `-` if `negative`, written at the
/// end of `buf`: one routine for lengths, counts and integer arguments,
/// without going through `core::fmt` on the hot path.
fn decimal(mut magnitude: u64, negative: bool, buf: &mut [u8; DECIMAL_MAX]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_redis_crate() {
        let mut ours = RespCommands::new();
        ours.command(4, "HSET").arg(b"user:profile:u1").arg("émoji".as_bytes()).arg_int(-42);
        ours.command(2, "DEL").arg(b"");
        ours.command(3, "SET").arg(b"k").arg_int(i64::MAX);
        let mut reference = redis::cmd("HSET")
            .arg("user:profile:u1")
            .arg("émoji")
            .arg(-42_i64)
            .get_packed_command();
        reference.extend(redis::cmd("DEL").arg("").get_packed_command());
        reference.extend(redis::cmd("SET").arg("k").arg(i64::MAX).get_packed_command());
        assert_eq!(ours.bytes(), reference.as_slice());
        assert_eq!(ours.len(), 3);
    }

    #[test]
    fn encodes_extreme_integers_like_the_redis_crate() {
        let mut ours = RespCommands::new();
        ours.command(5, "RPUSH").arg(b"l").arg_int(i64::MIN).arg_int(0).arg_int(-1);
        let reference =
            redis::cmd("RPUSH").arg("l").arg(i64::MIN).arg(0_i64).arg(-1_i64).get_packed_command();
        assert_eq!(ours.bytes(), reference.as_slice());
    }

    #[test]
    fn appends_other_commands() {
        let mut first = RespCommands::new();
        first.command(2, "GET").arg(b"a");
        let mut second = RespCommands::new();
        second.command(3, "SET").arg(b"b").arg_int(0);
        assert!(!second.is_empty());
        first.append(&second);
        assert_eq!(first.len(), 2);
        assert!(first.bytes().ends_with(b"$1\r\nb\r\n$1\r\n0\r\n"));
    }
}
