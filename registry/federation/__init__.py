"""Federation across registries (跨省通办): pinned peers, their trust lists, verifying their licences."""
