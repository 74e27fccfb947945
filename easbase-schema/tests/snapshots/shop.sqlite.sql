CREATE TABLE "customers" ( "id" text NOT NULL DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))), "user_id" text, "email" varchar(320) NOT NULL, "org_id" varchar(40), "vip" boolean NOT NULL DEFAULT FALSE, "profile" text DEFAULT '{"lang":"en"}', "created_at" text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), "updated_at" text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), CONSTRAINT "customers_pkey" PRIMARY KEY ("id"), CONSTRAINT "customers_email_key" UNIQUE ("email") );

CREATE INDEX "customers_user_id_policy_idx" ON "customers" ("user_id");

CREATE INDEX "customers_org_id_policy_idx" ON "customers" ("org_id");

CREATE TRIGGER "customers_updated_at" AFTER UPDATE ON "customers" FOR EACH ROW WHEN NEW."updated_at" IS OLD."updated_at" BEGIN UPDATE "customers" SET "updated_at" = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE rowid = NEW.rowid; END;

CREATE TABLE "products" ( "id" text NOT NULL DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))), "sku" varchar(32) NOT NULL, "name" text NOT NULL, "price" numeric NOT NULL DEFAULT 0, "stock" integer NOT NULL DEFAULT 0, "published" boolean NOT NULL DEFAULT TRUE, "released_on" text, "weight" real, "picture" blob, CONSTRAINT "products_pkey" PRIMARY KEY ("id"), CONSTRAINT "products_sku_key" UNIQUE ("sku"), CONSTRAINT "products_check1" CHECK ("price" >= 0), CONSTRAINT "products_stock_check" CHECK ("stock" >= 0) );

CREATE INDEX "products_published_price_idx" ON "products" ("published", "price");

CREATE UNIQUE INDEX "products_live_sku_idx" ON "products" ("sku", "published");

CREATE TABLE "orders" ( "id" text NOT NULL DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))), "number" integer, "customer_id" text NOT NULL, "status" text NOT NULL DEFAULT 'pending' CHECK ("status" IN ('pending', 'paid', 'shipped', 'it''s cancelled')), "note" text, "placed_at" text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), CONSTRAINT "orders_pkey" PRIMARY KEY ("id"), FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON DELETE RESTRICT, CONSTRAINT "orders_note_check" CHECK ("note" <> '') );

CREATE INDEX "orders_customer_id_placed_at_idx" ON "orders" ("customer_id", "placed_at");

CREATE INDEX "orders_status_policy_idx" ON "orders" ("status");

CREATE TABLE "order_items" ( "order_id" text NOT NULL, "product_id" text NOT NULL, "quantity" integer NOT NULL DEFAULT 1, "unit_price" numeric NOT NULL, CONSTRAINT "order_items_pkey" PRIMARY KEY ("order_id", "product_id"), FOREIGN KEY ("order_id") REFERENCES "orders" ("id") ON DELETE CASCADE, FOREIGN KEY ("product_id") REFERENCES "products" ("id"), CONSTRAINT "order_items_quantity_check" CHECK ("quantity" > 0) );

CREATE INDEX "order_items_quantity_policy_idx" ON "order_items" ("quantity");

CREATE TABLE "events" ( "id" integer PRIMARY KEY AUTOINCREMENT, "kind" varchar(40) NOT NULL, "payload" text, "at" text DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')) );

