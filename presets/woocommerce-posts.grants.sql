-- shipsync on WooCommerce (orders in WordPress posts): exactly what the woocommerce-posts preset reads and writes
-- (shipsync init --preset woocommerce-posts --grants).
CREATE USER IF NOT EXISTS {{.User}} IDENTIFIED BY 'change-me';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}posts` TO {{.User}};
GRANT UPDATE (post_status, post_modified, post_modified_gmt) ON `{{.Database}}`.`{{.Prefix}}posts` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}postmeta` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}woocommerce_order_items` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}woocommerce_order_itemmeta` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}comments` TO {{.User}};
