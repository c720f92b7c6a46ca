"""The cloud model: accounts, billing, offers, machines and their lifecycle, snapshots, the model mirror,
SQLite state."""
