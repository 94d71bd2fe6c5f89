-- eddy: bids-avro: Flink SQL (Flink 1.20) written by eddy sql --dialect flink
-- The same rows as eddy run when no record is late. What does not carry over:
--   * late records (event time in a window that already closed) are dropped by Flink, not
--     dead-lettered
--   * format avro is Flink's avro-confluent format (the flink-sql-avro-confluent-registry jar must
--     be on the cluster's classpath); the columns are the reader schema, so their types must be the
--     writer schema's or promotions of them (int to BIGINT, float to DOUBLE; a coerce stage sets
--     them), and the event-time field is read as a long of epoch milliseconds
--   * a record whose Avro schema does not resolve to the columns fails the job instead of becoming
--     a dead letter; records without a valid event time are dropped
--   * standard output becomes Flink's print connector (the TaskManagers' stdout, rows as +I[...]
--     not JSON); deploy with --sink-topic to write eddy's JSON rows to a topic

SET 'pipeline.name' = 'eddy: bids-avro';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '0';
SET 'table.exec.source.idle-timeout' = '2000 ms';

CREATE TEMPORARY TABLE `eddy_source` (
  `dateTime` BIGINT,
  `auction` BIGINT,
  `price` BIGINT,
  `channel` STRING,
  `_key` STRING,
  `_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `_partition` INT METADATA FROM 'partition' VIRTUAL,
  `_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `__eddy_t` AS COALESCE(CAST(TO_TIMESTAMP_LTZ(`dateTime`, 3) AS TIMESTAMP(3)), TIMESTAMP '0001-01-01 00:00:00.000'),
  WATERMARK FOR `__eddy_t` AS `__eddy_t` - INTERVAL '0 00:00:01.001' DAY TO SECOND(3)
) WITH (
  'connector' = 'kafka',
  'topic' = 'bids.avro',
  'properties.bootstrap.servers' = 'kafka:9092',
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
  'key.format' = 'raw',
  'key.fields' = '_key',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = 'http://registry:8081/apis/ccompat/v7',
  'value.avro-confluent.basic-auth.credentials-source' = 'USER_INFO',
  'value.avro-confluent.basic-auth.user-info' = 'eddy:***',
  'value.fields-include' = 'EXCEPT_KEY',
  'scan.watermark.emit.strategy' = 'on-event',
  'scan.watermark.idle-timeout' = '2000 ms'
);

CREATE TEMPORARY VIEW `eddy_stage_1` AS
SELECT * FROM `eddy_source`
WHERE ((`price` > 1000)) IS TRUE;

CREATE TEMPORARY TABLE `eddy_sink_0` (
  `channel` STRING,
  `window_start` STRING,
  `window_end` STRING,
  `n` BIGINT,
  `total` BIGINT,
  `mean` DOUBLE
) WITH (
  'connector' = 'print'
);

INSERT INTO `eddy_sink_0`
SELECT CAST(`channel` AS STRING) AS `channel`, `window_start`, `window_end`, `n`, `total`, `mean` FROM (
  SELECT `channel`,
    DATE_FORMAT(window_start, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_start`,
    DATE_FORMAT(window_end, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS `window_end`,
    COUNT(*) AS `n`,
    SUM(`price`) AS `total`,
    AVG(CAST(`price` AS DOUBLE)) AS `mean`
  FROM TABLE(
    TUMBLE(TABLE `eddy_stage_1`, DESCRIPTOR(`__eddy_t`), INTERVAL '0 00:00:10.000' DAY TO SECOND(3)))
  WHERE `__eddy_t` > TIMESTAMP '0001-01-01 00:00:00.000'
  GROUP BY `channel`, window_start, window_end
) AS `eddy_rows`;
