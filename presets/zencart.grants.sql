-- shipsync on Zen Cart: exactly what the zencart preset reads and writes (shipsync init --preset zencart --grants).
CREATE USER IF NOT EXISTS {{.User}} IDENTIFIED BY 'change-me';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}orders` TO {{.User}};
GRANT SELECT ON `{{.Database}}`.`{{.Prefix}}orders_products` TO {{.User}};
GRANT UPDATE (orders_status, last_modified) ON `{{.Database}}`.`{{.Prefix}}orders` TO {{.User}};
GRANT SELECT, INSERT ON `{{.Database}}`.`{{.Prefix}}orders_status_history` TO {{.User}};
