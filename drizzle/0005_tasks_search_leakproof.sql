-- Under row-level security the planner may use a WHERE clause in an index scan only if its
-- operator is LEAKPROOF (otherwise it could see rows the policy hides before the policy runs).
-- The text-search match operator is not marked so, which leaves the GIN index on tasks.search
-- unused for the application's role: every search became a scan of the company's rows. The
-- function only compares two already-parsed values and raises no data-dependent errors, so it
-- reveals nothing but its result. Marking it needs a superuser; elsewhere the migration says so
-- and searches still work, only slower.
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF;
  ELSE
    RAISE NOTICE 'not a superuser: ts_match_vq stays non-leakproof, so task searches cannot use their GIN index';
  END IF;
END
$$;
