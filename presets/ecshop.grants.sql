-- shipsync on ECShop: exactly what the ecshop preset reads and writes (shipsync init --preset ecshop --grants).
CREATE USER IF NOT EXISTS {{.User}} IDENTIFIED BY 'change-me';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}order_info` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}order_goods` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}goods` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}region` TO {{.User}};
GRANT UPDATE (invoice_no, shipping_status, shipping_time) ON `{{.Database}}`.`{{.Prefix}}order_info` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}order_action` TO {{.User}};
