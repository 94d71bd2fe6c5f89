-- eddy: features-per-user: Flink SQL (Flink 1.20) written by eddy sql --dialect flink
-- The same rows as eddy run when no record is late. What does not carry over:
--   * late records (event time in a window that already closed) are dropped by Flink, not
--     dead-lettered
--   * the file source is read by Flink's filesystem connector on the TaskManagers (the path must be
--     readable there); deploy with --topic to read a Kafka topic instead
--   * a value a coerce stage cannot convert, or a line that is not JSON, becomes NULL columns
--     instead of a dead letter; records without a valid event time are dropped
--   * standard output becomes Flink's print connector (the TaskManagers' stdout, rows as +I[...]
--     not JSON); deploy with --sink-topic to write eddy's JSON rows to a topic

SET 'pipeline.name' = 'eddy: features-per-user';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'table.exec.source.idle-timeout' = '30000 ms';

CREATE TEMPORARY TABLE `eddy_source` (
  `ts` STRING,
  `amount` DOUBLE,
  `user_id` STRING,
  `page` STRING,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`ts`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`ts` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`ts`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`ts` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`ts`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`ts`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`ts` FROM CHAR_LENGTH(`ts`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`ts` FROM CHAR_LENGTH(`ts`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`ts` FROM CHAR_LENGTH(`ts`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`ts` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`ts`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:05.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '<repo>/examples/clicks.jsonl',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

CREATE TEMPORARY TABLE `eddy_sink_0` (
  `user_id` STRING,
  `window_start` STRING,
  `window_end` STRING,
  `events` BIGINT,
  `max_amount` DOUBLE,
  `spent` DOUBLE,
  `pages` BIGINT
) WITH (
  'connector' = 'print'
);

INSERT INTO `eddy_sink_0`
SELECT CAST(`user_id` AS STRING) AS `user_id`, `window_start`, `window_end`, `events`, `max_amount`, `spent`, `pages` FROM (
  SELECT `user_id`,
    DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_start`,
    DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_end`,
    COUNT(*) AS `events`,
    MAX(`amount`) AS `max_amount`,
    SUM(`amount`) AS `spent`,
    COUNT(DISTINCT `page`) AS `pages`
  FROM TABLE(
    TUMBLE(TABLE `eddy_source`, DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:01:00.000' DAY TO SECOND(3)))
  WHERE `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000'
  GROUP BY `user_id`, window_start, window_end
) AS `eddy_rows`;
