// How long the harness waits for a child it started (server, s3rver, redis-server) to come up.
// Generous on purpose: a start is ready in well under a second on a quiet machine, but CI and
// concurrent test files can share two cores with a dozen processes, and a slow start under load is
// not what any test checks. Longer than this is a hang, reported with the child's output.
export const START_LIMIT_MS = 60_000;
