-- shipsync: a least-privilege database user for an ECShop shop (MariaDB 10.3+ or MySQL 5.7+).
--
-- Run it as an administrator, after replacing:
--   `shop`          the shop's schema (shop.database in config.yaml)
--   'shipsync'      the user name (shop.user)
--   '127.0.0.1'     the address shipsync connects from: '127.0.0.1' when it runs on the database
--                   host (it connects over TCP, never the socket, so 'localhost' does not match),
--                   otherwise its own address or a narrow range such as '10.0.1.%'. Avoid '%'.
--   'change-me'     a long random password; shipsync reads it from SHOP_DB_PASSWORD
--
--   mariadb -u root -p < grants.sql      (or: mysql -u root -p < grants.sql)
--
-- What each grant is for, with the shipped config.yaml (deploy/deploy_integration_test.go runs this
-- file on a scratch schema and then runs every statement of config.yaml, the binlog stream and a
-- few forbidden statements as the new user):
--   REPLICATION SLAVE       reading the binlog (the server-wide privilege the stream needs)
--   REPLICATION CLIENT      SHOW MASTER STATUS: where to start on first run and after --recover.
--                           MariaDB 10.5+ renamed it BINLOG MONITOR; both names are accepted
--                           there, and SHOW GRANTS prints BINLOG MONITOR.
--   SELECT                  orders.query, items_query and backfill_query, and the column list of
--                           the watched table (read from information_schema, which only shows
--                           tables the user has a privilege on)
--   UPDATE (columns)        writeback.waybill and writeback.status.* set these columns only
--   SELECT (columns), INSERT on ecs_order_action: the order-history notes, whose NOT EXISTS guard
--                           reads the table back
--
-- Adapting it to another shop or another config:
--   - every table your orders.* queries read needs SELECT; every column your writeback statements
--     SET needs UPDATE on it (or grant UPDATE on the whole table); every table they INSERT into
--     needs INSERT, and SELECT on the columns their WHERE / NOT EXISTS read;
--   - table prefixes other than ecs_ (ECShop's installer asks for one) change every table name;
--   - nothing here allows DELETE, DDL, or reading other schemas, and shipsync needs none of it;
--     `shipsync check --config ...` lists what is missing;
--   - shipsync's own state lives in Redis, not in the shop database.

CREATE USER IF NOT EXISTS 'shipsync'@'127.0.0.1' IDENTIFIED BY 'change-me';

-- Binlog: server-wide privileges, they cannot be granted on one schema.
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'shipsync'@'127.0.0.1';

-- Reading orders, their items, goods weights and region names.
GRANT SELECT ON `shop`.`ecs_order_info` TO 'shipsync'@'127.0.0.1';
GRANT SELECT ON `shop`.`ecs_order_goods` TO 'shipsync'@'127.0.0.1';
GRANT SELECT ON `shop`.`ecs_goods` TO 'shipsync'@'127.0.0.1';
GRANT SELECT ON `shop`.`ecs_region` TO 'shipsync'@'127.0.0.1';

-- Write-back: the waybill (invoice_no), shipping status and shipping time, nothing else.
GRANT UPDATE (`invoice_no`, `shipping_status`, `shipping_time`) ON `shop`.`ecs_order_info` TO 'shipsync'@'127.0.0.1';

-- Order history notes ("sim waybill SF123", "delivered", exceptions), guarded by NOT EXISTS.
GRANT SELECT (`order_id`, `action_user`, `action_note`), INSERT ON `shop`.`ecs_order_action` TO 'shipsync'@'127.0.0.1';
