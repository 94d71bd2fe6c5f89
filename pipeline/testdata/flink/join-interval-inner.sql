-- eddy: Flink SQL (Flink 1.20) written by eddy sql --dialect flink
-- The same rows as eddy run when no record is late. What does not carry over:
--   * a value a coerce stage cannot convert, or a line that is not JSON, becomes NULL columns
--     instead of a dead letter; records without a valid event time are dropped
--   * Flink emits a joined pair as soon as both rows are in (a left join's unmatched row when the
--     watermark passes it); eddy emits a left row's rows together once the watermark lets it go,
--     ordered by left time, key and values: the same rows, in another order
--   * late rows (behind the watermark) are dropped by Flink's join, not dead-lettered; Flink's join
--     has no allowed lateness, so the rows eddy still takes within allowed_lateness 1s are dropped
--     too

SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'table.exec.source.idle-timeout' = '30000 ms';

CREATE TEMPORARY TABLE `eddy_source_bids` (
  `dateTime` STRING,
  `price` BIGINT,
  `auction` STRING,
  `id` STRING,
  `bidder` STRING,
  `seller` STRING,
  `_key` STRING,
  `_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `_partition` INT METADATA FROM 'partition' VIRTUAL,
  `_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`dateTime`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`dateTime` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`dateTime` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`dateTime`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`dateTime` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`dateTime`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:02.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'kafka',
  'topic' = 'bids',
  'properties.bootstrap.servers' = 'kafka-1:9092',
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
  'key.format' = 'raw',
  'key.fields' = '_key',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'value.json.ignore-parse-errors' = 'true',
  'scan.watermark.emit.strategy' = 'on-event',
  'scan.watermark.idle-timeout' = '30000 ms'
);

CREATE TEMPORARY TABLE `eddy_source_auctions` (
  `dateTime` STRING,
  `price` BIGINT,
  `auction` STRING,
  `id` STRING,
  `bidder` STRING,
  `seller` STRING,
  `_key` STRING,
  `_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `_partition` INT METADATA FROM 'partition' VIRTUAL,
  `_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `__eddy_t` AS COALESCE(CASE WHEN REGEXP(`dateTime`, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(`dateTime` AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^-?[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(`dateTime` AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3)) WHEN REGEXP(`dateTime`, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, CASE WHEN REGEXP(`dateTime`, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * (CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(`dateTime` FROM CHAR_LENGTH(`dateTime`) - 1 FOR 2) AS INT)) END, TRY_CAST(SUBSTRING(`dateTime` FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(`dateTime`, '^.{11}([0-9:]{8}(\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))) END, TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:02.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'kafka',
  'topic' = 'auctions',
  'properties.bootstrap.servers' = 'k2:9092',
  'scan.startup.mode' = 'earliest-offset',
  'key.format' = 'raw',
  'key.fields' = '_key',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'value.json.ignore-parse-errors' = 'true',
  'scan.watermark.emit.strategy' = 'on-event',
  'scan.watermark.idle-timeout' = '30000 ms'
);

CREATE TEMPORARY VIEW `eddy_sources` AS
SELECT `dateTime`, `price`, `auction`, `id`, `bidder`, `seller`, `__eddy_t`, CAST('bids' AS STRING) AS `_source` FROM `eddy_source_bids`
UNION ALL
SELECT `dateTime`, `price`, `auction`, `id`, `bidder`, `seller`, `__eddy_t`, CAST('auctions' AS STRING) AS `_source` FROM `eddy_source_auctions`;

CREATE TEMPORARY VIEW `eddy_stage_1` AS
SELECT (CASE WHEN (`_source` IS NOT DISTINCT FROM 'bids') THEN `auction` ELSE `id` END) AS `k`, `price` AS `p`, COALESCE(`bidder`, `seller`) AS `who`, `__eddy_t`, `_source`
FROM `eddy_sources`;

CREATE TEMPORARY VIEW `eddy_stage_2` AS
SELECT * FROM `eddy_stage_1`
WHERE (((`_source` IS NOT DISTINCT FROM 'auctions') OR (`p` > 100))) IS TRUE;

CREATE TEMPORARY VIEW `eddy_left` AS
SELECT * FROM `eddy_stage_2`
WHERE `_source` <> 'auctions' AND `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000';

CREATE TEMPORARY VIEW `eddy_right` AS
SELECT * FROM `eddy_stage_2`
WHERE `_source` = 'auctions' AND `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000';

CREATE TEMPORARY TABLE `eddy_sink_0` (
  `__eddy_key` STRING,
  `k` STRING,
  `p` BIGINT,
  `seller` STRING
) WITH (
  'connector' = 'kafka',
  'topic' = 'out',
  'properties.bootstrap.servers' = 'kafka-1:9092',
  'key.format' = 'raw',
  'key.fields' = '__eddy_key',
  'value.format' = 'json',
  'value.fields-include' = 'EXCEPT_KEY',
  'sink.delivery-guarantee' = 'at-least-once'
);

INSERT INTO `eddy_sink_0`
SELECT `k`, `k`, `p`, `seller` FROM (
  SELECT l.`k` AS `k`,
    l.`p` AS `p`,
    r.`who` AS `seller`
  FROM `eddy_left` AS l, `eddy_right` AS r
  WHERE l.`k` = r.`k`
    AND l.`__eddy_t` BETWEEN r.`__eddy_t` - INTERVAL '0 00:00:05.000' DAY TO SECOND(3) AND r.`__eddy_t` + INTERVAL '0 00:01:00.000' DAY TO SECOND(3)
) AS `eddy_rows`;
