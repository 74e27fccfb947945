//! PostgreSQL row-level security: enable and force it, one policy per rule, the service
//! role's policy, and the grants of the request roles.

use super::{Gen, Statement, StatementKind as K};
use crate::model::{Operation, Role};
use crate::policy::{self, AuthMode};
use crate::valid::TableDef;

impl Gen<'_> {
    fn role_list(&self, roles: &[Role]) -> String {
        roles.iter().map(|r| self.quote(self.options.roles.get(*r).as_str())).collect::<Vec<_>>().join(", ")
    }

    /// `GRANT USAGE ON SCHEMA` for the request roles, when tables live in a schema.
    pub(crate) fn schema_grants(&self) -> Vec<Statement> {
        let Some(schema) = &self.options.schema else { return Vec::new() };
        vec![self.stmt(
            K::Grant,
            None,
            format!(
                "GRANT USAGE ON SCHEMA {} TO {}",
                self.quote(schema.as_str()),
                self.role_list(&[Role::Anon, Role::Authenticated, Role::Service])
            ),
        )]
    }

    /// RLS, policies and grants of one table.
    pub(crate) fn security(&self, table: &TableDef) -> Vec<Statement> {
        let name = table.name.as_str();
        let q = self.qualified(name);
        let mut out = vec![
            self.stmt(K::EnableRls, Some(name), format!("ALTER TABLE {q} ENABLE ROW LEVEL SECURITY")),
            self.stmt(K::EnableRls, Some(name), format!("ALTER TABLE {q} FORCE ROW LEVEL SECURITY")),
        ];
        for p in &table.policies {
            let mut sql = format!(
                "CREATE POLICY {} ON {q} AS PERMISSIVE FOR {} TO {}",
                self.quote(p.name.as_str()),
                p.operation.as_str().to_ascii_uppercase(),
                self.role_list(&p.roles)
            );
            if let Some(u) = &p.using {
                sql.push_str(&format!(
                    " USING ({})",
                    policy::to_sql(u, table, self.dialect, AuthMode::Postgres)
                ));
            }
            if let Some(c) = &p.check {
                sql.push_str(&format!(
                    " WITH CHECK ({})",
                    policy::to_sql(c, table, self.dialect, AuthMode::Postgres)
                ));
            }
            out.push(self.stmt(K::CreatePolicy, Some(name), sql));
        }
        out.push(self.stmt(
            K::CreatePolicy,
            Some(name),
            format!(
                "CREATE POLICY {} ON {q} AS PERMISSIVE FOR ALL TO {} USING (true) WITH CHECK (true)",
                self.quote(&crate::name::fit(format!("{name}_service"))),
                self.role_list(&[Role::Service])
            ),
        ));
        let ops: Vec<String> = Operation::ALL.iter().map(|o| o.as_str().to_ascii_uppercase()).collect();
        out.push(self.stmt(
            K::Grant,
            Some(name),
            format!(
                "GRANT {} ON {q} TO {}",
                ops.join(", "),
                self.role_list(&[Role::Anon, Role::Authenticated, Role::Service])
            ),
        ));
        out
    }
}
