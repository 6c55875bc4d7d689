-- The benchmark's data set: 50k runs x 20 results over the last ~30 days, 25 suites,
-- three environments, realistic pass/fail mix and JSON documents. :runs sets the size.
\set ON_ERROR_STOP on
INSERT INTO users (username, password_hash, role) VALUES ('bench', 'x', 'engineer');
INSERT INTO api_tokens (user_id, token_hash, label)
SELECT id, encode(sha256(convert_to(:'token', 'UTF8')), 'hex'), 'bench' FROM users WHERE username = 'bench';
INSERT INTO validation_suites (name, description, config)
SELECT 'suite-' || lpad(g::text, 2, '0'), 'Benchmark suite ' || g, json_build_object('timeout', 30 + g)::jsonb
FROM generate_series(1, 25) g;
INSERT INTO validation_runs (suite_id, environment, status, triggered_by, started_at, finished_at,
                             total_checks, passed_checks, failed_checks, metadata)
SELECT 1 + g % 25, (ARRAY['dev', 'staging', 'prod'])[1 + g % 3],
       CASE WHEN g % 10 = 0 THEN 'failed' WHEN g % 47 = 0 THEN 'error' ELSE 'passed' END,
       1,
       now() - (:runs - g) * interval '52 seconds',
       now() - (:runs - g) * interval '52 seconds' + (30 + g % 600) * interval '1 second',
       20, 18, 1,
       json_build_object('commit', md5(g::text), 'branch', 'main', 'build', g)::jsonb
FROM generate_series(1, :runs) g;
INSERT INTO validation_results (run_id, check_name, status, duration_ms, message, details, created_at)
SELECT r, 'check-' || lpad(c::text, 2, '0'),
       CASE WHEN (r * 7 + c) % 23 = 0 THEN 'fail' WHEN (r + c) % 97 = 0 THEN 'error'
            WHEN c = 20 THEN 'skip' ELSE 'pass' END,
       ((r * 31 + c * 17) % 5000) / 10.0,
       CASE WHEN (r * 7 + c) % 23 = 0 THEN 'assertion failed: expected 200, got 500' END,
       CASE WHEN (r * 7 + c) % 23 = 0 THEN json_build_object('line', c * 10, 'file', 'test_' || c || '.py')::jsonb END,
       now() - (:runs - r) * interval '52 seconds'
FROM generate_series(1, :runs) r, generate_series(1, 20) c;
ANALYZE;
