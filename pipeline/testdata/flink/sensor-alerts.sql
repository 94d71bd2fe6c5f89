-- eddy: sensor-alerts: Flink SQL (Flink 1.20) written by eddy sql --dialect flink
-- The same rows as eddy run when no record is late. What does not carry over:
--   * allowed_lateness 30s: Flink's window TVFs have no allowed lateness, so each window is emitted
--     once, when it closes, and revision is always 0; records that eddy would add to a closed
--     window as a revision are dropped
--   * late records are dropped, as late: drop says
--   * the file source is read by Flink's filesystem connector on the TaskManagers (the path must be
--     readable there); deploy with --topic to read a Kafka topic instead
--   * a value a coerce stage cannot convert, or a line that is not JSON, becomes NULL columns
--     instead of a dead letter; records without a valid event time are dropped
--   * column types guessed from their use (a coerce stage fixes them): ok BOOLEAN (from ok == false
--     || temperature > 30); temperature DOUBLE (from ok == false || temperature > 30)
--   * first/last are FIRST_VALUE/LAST_VALUE in arrival order; eddy takes the earliest/latest event
--     time (the same when records arrive in event-time order per key)
--   * standard output becomes Flink's print connector (the TaskManagers' stdout, rows as +I[...]
--     not JSON); deploy with --sink-topic to write eddy's JSON rows to a topic

SET 'pipeline.name' = 'eddy: sensor-alerts';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'table.exec.source.idle-timeout' = '30000 ms';

CREATE TEMPORARY TABLE `eddy_source` (
  `ts` STRING,
  `ok` BOOLEAN,
  `temperature` DOUBLE,
  `device` STRING,
  `site` STRING,
  `battery` STRING,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`ts`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`ts` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`ts`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`ts` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`ts`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`ts`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`ts` FROM CHAR_LENGTH(`ts`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`ts` FROM CHAR_LENGTH(`ts`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`ts` FROM CHAR_LENGTH(`ts`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`ts` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`ts`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:10.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '<repo>/examples/sensors.jsonl',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

CREATE TEMPORARY VIEW `eddy_stage_0` AS
SELECT * FROM `eddy_source`
WHERE (((`ok` IS NOT DISTINCT FROM FALSE) OR (`temperature` > 30))) IS TRUE;

CREATE TEMPORARY VIEW `eddy_stage_1` AS
SELECT `device` AS `device`, `site` AS `site`, `temperature` AS `temp`, `battery` AS `battery`, `__eddy_t`
FROM `eddy_stage_0`;

CREATE TEMPORARY TABLE `eddy_sink_0` (
  `site` STRING,
  `device` STRING,
  `window_start` STRING,
  `window_end` STRING,
  `revision` BIGINT,
  `alerts` BIGINT,
  `max_temp` DOUBLE,
  `min_battery` STRING,
  `last_temp` DOUBLE
) WITH (
  'connector' = 'print'
);

INSERT INTO `eddy_sink_0`
SELECT `site`, `device`, `window_start`, `window_end`, `revision`, `alerts`, `max_temp`, `min_battery`, `last_temp` FROM (
  SELECT `site`,
    `device`,
    DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_start`,
    DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_end`,
    CAST(0 AS BIGINT) AS `revision`,
    COUNT(*) AS `alerts`,
    MAX(`temp`) AS `max_temp`,
    MIN(`battery`) AS `min_battery`,
    LAST_VALUE(`temp`) AS `last_temp`
  FROM TABLE(
    HOP(TABLE `eddy_stage_1`, DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:00:10.000' DAY TO SECOND(3), INTERVAL '0 00:01:00.000' DAY TO SECOND(3)))
  WHERE `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000'
  GROUP BY `site`, `device`, window_start, window_end
) AS `eddy_rows`;
