-- eddy: Flink SQL (Flink 1.20) written by eddy sql --dialect flink
-- The same rows as eddy run when no record is late. What does not carry over:
--   * the file source is read by Flink's filesystem connector on the TaskManagers (the path must be
--     readable there)
--   * a value a coerce stage cannot convert, or a line that is not JSON, becomes NULL columns
--     instead of a dead letter; records without a valid event time are dropped
--   * Flink emits a joined pair as soon as both rows are in (a left join's unmatched row when the
--     watermark passes it); eddy emits a left row's rows together once the watermark lets it go,
--     ordered by left time, key and values: the same rows, in another order
--   * late rows (behind the watermark) are dropped by Flink's join, not dead-lettered
--   * standard output becomes Flink's print connector (the TaskManagers' stdout, rows as +I[...]
--     not JSON); deploy with --sink-topic to write eddy's JSON rows to a topic

SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'table.exec.source.idle-timeout' = '30000 ms';

CREATE TEMPORARY TABLE `eddy_source_persons` (
  `dateTime` STRING,
  `id` STRING,
  `seller` STRING,
  `state` STRING,
  `category` STRING,
  `reserve` STRING,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`dateTime`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`dateTime` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`dateTime` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`dateTime`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`dateTime` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`dateTime`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:00.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '<dir>/persons.jsonl',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

CREATE TEMPORARY TABLE `eddy_source_auctions` (
  `dateTime` STRING,
  `id` STRING,
  `seller` STRING,
  `state` STRING,
  `category` STRING,
  `reserve` STRING,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`dateTime`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`dateTime` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`dateTime` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`dateTime`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`dateTime` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`dateTime`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:00.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'filesystem',
  'path' = '<dir>/auctions.jsonl',
  'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);

CREATE TEMPORARY VIEW `eddy_sources` AS
SELECT `dateTime`, `id`, `seller`, `state`, `category`, `reserve`, `__eddy_t`, CAST('persons' AS STRING) AS `_source` FROM `eddy_source_persons`
UNION ALL
SELECT `dateTime`, `id`, `seller`, `state`, `category`, `reserve`, `__eddy_t`, CAST('auctions' AS STRING) AS `_source` FROM `eddy_source_auctions`;

CREATE TEMPORARY VIEW `eddy_left` AS
SELECT * FROM `eddy_sources`
WHERE `_source` <> 'auctions' AND `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000';

CREATE TEMPORARY VIEW `eddy_right` AS
SELECT * FROM `eddy_sources`
WHERE `_source` = 'auctions' AND `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000';

CREATE TEMPORARY TABLE `eddy_sink_0` (
  `id` STRING,
  `_source` STRING,
  `reserve` STRING,
  `window_start` STRING,
  `window_end` STRING
) WITH (
  'connector' = 'print'
);

INSERT INTO `eddy_sink_0`
SELECT CAST(`id` AS STRING) AS `id`, `_source`, CAST(`reserve` AS STRING) AS `reserve`, `window_start`, `window_end` FROM (
  SELECT l.`id` AS `id`,
    l.`_source` AS `_source`,
    r.`reserve` AS `reserve`,
    DATE_FORMAT(l.window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_start`,
    DATE_FORMAT(l.window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_end`
  FROM (SELECT * FROM TABLE(HOP(TABLE `eddy_left`, DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:00:05.000' DAY TO SECOND(3), INTERVAL '0 00:00:10.000' DAY TO SECOND(3)))) AS l
  JOIN (SELECT * FROM TABLE(HOP(TABLE `eddy_right`, DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:00:05.000' DAY TO SECOND(3), INTERVAL '0 00:00:10.000' DAY TO SECOND(3)))) AS r
  ON l.`id` = r.`seller`
    AND l.`state` = r.`category`
    AND l.window_start = r.window_start
    AND l.window_end = r.window_end
) AS `eddy_rows`;
