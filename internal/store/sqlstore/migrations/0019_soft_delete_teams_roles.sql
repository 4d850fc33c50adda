-- Soft delete of teams and roles (issue 12 §4): a deleted team or role of the
-- tenant's own keeps its row, marked with the time of deletion, for the 30-day
-- restore window; every query on live teams and roles leaves it out (its name stays
-- taken), and the purge job removes it afterwards. NULL: live.
ALTER TABLE teams ADD COLUMN deleted_at {{int64}};
-- The ids of the team's members when it was deleted (a JSON array; NULL while the
-- team is live): deleting takes the team out of its members' teams at once, and a
-- restore puts it back into theirs.
ALTER TABLE teams ADD COLUMN deleted_members TEXT;
ALTER TABLE tenant_roles ADD COLUMN deleted_at {{int64}};
