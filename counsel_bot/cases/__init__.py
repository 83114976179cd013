"""Cases, case workers, invitations and counselling sessions, kept in the store."""
