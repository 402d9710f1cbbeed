-- shipsync on WooCommerce (HPOS): exactly what the woocommerce preset reads and writes (shipsync init --preset woocommerce --grants).
CREATE USER IF NOT EXISTS {{.User}} IDENTIFIED BY 'change-me';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}wc_orders` TO {{.User}};
GRANT UPDATE (status, date_updated_gmt) ON `{{.Database}}`.`{{.Prefix}}wc_orders` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}wc_order_addresses` TO {{.User}};
GRANT SELECT (order_id, date_completed_gmt), UPDATE (date_completed_gmt) ON `{{.Database}}`.`{{.Prefix}}wc_order_operational_data` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}wc_orders_meta` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}woocommerce_order_items` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}woocommerce_order_itemmeta` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}postmeta` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}comments` TO {{.User}};
