-- shipsync on OpenCart: exactly what the opencart preset reads and writes (shipsync init --preset opencart --grants).
CREATE USER IF NOT EXISTS {{.User}} IDENTIFIED BY 'change-me';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}order` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}order_product` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}product` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}weight_class` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}country` TO {{.User}};
GRANT UPDATE (order_status_id, date_modified) ON `{{.Database}}`.`{{.Prefix}}order` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}order_history` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}order_shipment` TO {{.User}};
