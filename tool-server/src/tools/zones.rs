//! `list_okta_network_zones`: IP, dynamic and enhanced dynamic zones that policies refer to.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::args::{lenient_limit, limit, query, text};
use super::output::{ToolResult, field, join_parts, list_result};
use super::shape::{ExtraFields, FieldsArg, Kind, Shape};
use crate::okta::ApiPath;
use crate::server::OktaToolServer;

/// Page size asked of `/zones`.
const ZONES_PAGE: usize = 200;
/// Values of one kind (gateways, countries, …) shown per zone line.
const VALUES_SHOWN: usize = 5;

/// Arguments of `list_okta_network_zones`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ListZonesArgs {
    /// Okta `filter` expression, e.g. `usage eq "BLOCKLIST"`, `usage eq "POLICY"`,
    /// `id eq "nzo1a2b3c4D5e6F7g8h9"`.
    pub filter_type: Option<String>,
    /// Most zones to return, 1–1000 (default 200). `max_results` is accepted as well.
    #[serde(deserialize_with = "lenient_limit", alias = "max_results")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// Cursor from a previous call's `after`, to get the next page.
    pub after: Option<String>,
    /// More Okta properties for the structured result than the output schema declares, as
    /// dotted names (e.g. `["profile.mobilePhone"]`), or `["*"]` for all of them.
    #[serde(default)]
    pub fields: Option<FieldsArg>,
}

/// `path=a,b,c,+2 more` from the array at the dotted `path` (`gateways`, `locations.include`).
fn values(zone: &Value, path: &str, render: impl Fn(&Value) -> Option<String>) -> Option<String> {
    let items = path
        .split('.')
        .try_fold(zone, |value, key| value.get(key))?
        .as_array()?;
    let mut shown: Vec<String> = items
        .iter()
        .filter_map(&render)
        .take(VALUES_SHOWN)
        .collect();
    if shown.is_empty() {
        return None;
    }
    if items.len() > VALUES_SHOWN {
        shown.push(format!("+{} more", items.len() - VALUES_SHOWN));
    }
    Some(format!("{path}={}", shown.join(",")))
}

fn location(l: &Value) -> Option<String> {
    let country = field(l, "country")?;
    Some(match field(l, "region") {
        Some(region) => format!("{country}/{region}"),
        None => country,
    })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What `list_okta_network_zones` answers per zone.
pub(crate) const ZONE: Shape = Shape {
    what: "An Okta network zone",
    fields: &[
        ("id", Kind::Text),
        ("name", Kind::Text),
        ("type", Kind::Text),
        ("usage", Kind::Text),
        ("status", Kind::Text),
        ("system", Kind::Flag),
        ("gateways", Kind::Any),
        ("proxies", Kind::Any),
        ("locations", Kind::Any),
        ("asns", Kind::Any),
        ("ipServiceCategories", Kind::Any),
        ("proxyType", Kind::Text),
        ("created", Kind::Time),
        ("lastUpdated", Kind::Time),
    ],
};

fn zone_line(zone: &Value) -> String {
    let kind = [field(zone, "type"), field(zone, "usage")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let mut parts = vec![
        field(zone, "id"),
        field(zone, "name"),
        (!kind.is_empty()).then(|| format!("[{kind}]")),
        field(zone, "status"),
        values(zone, "gateways", |g| field(g, "value")),
        values(zone, "proxies", |p| field(p, "value")),
    ];
    // A DYNAMIC zone lists its locations and ASNs; a DYNAMIC_V2 (enhanced dynamic) zone has
    // `{include, exclude}` of each, and of IP service categories.
    for list in ["locations", "asns", "ipServiceCategories"] {
        let render = if list == "locations" {
            location
        } else {
            scalar
        };
        for path in [
            list.to_string(),
            format!("{list}.include"),
            format!("{list}.exclude"),
        ] {
            parts.push(values(zone, &path, render));
        }
    }
    parts.push(field(zone, "proxyType").map(|p| format!("proxyType={p}")));
    join_parts(parts)
}

#[tool_router(router = zones_tools, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "list_okta_network_zones",
        description = "List Okta network zones (IP, dynamic and enhanced dynamic zones, \
                       blocklists) with their gateways, proxies, locations, ASNs and IP service \
                       categories (what an enhanced dynamic zone includes and excludes). Narrow \
                       with `filter_type`, e.g. usage eq \"BLOCKLIST\".",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_network_zones(
        &self,
        Parameters(args): Parameters<ListZonesArgs>,
    ) -> ToolResult {
        let limit = limit(args.limit, 200, 1000)?;
        let q = query([
            ("filter", text(&args.filter_type)),
            ("after", text(&args.after)),
        ]);
        let page = self
            .okta()
            .list(
                &ApiPath::new(["zones"])?,
                &q,
                limit,
                Some(ZONES_PAGE),
                &ZONE.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        Ok(list_result(
            "zones",
            "network zones",
            page,
            &ZONE,
            zone_line,
            Map::new(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zone_lines_summarise_their_contents() {
        let ip = json!({"id": "nzo1", "name": "Office", "type": "IP", "usage": "POLICY",
            "status": "ACTIVE",
            "gateways": (1..=7).map(|i| json!({"type": "CIDR", "value": format!("10.0.{i}.0/24")})).collect::<Vec<_>>()});
        assert_eq!(
            zone_line(&ip),
            "nzo1  Office  [IP, POLICY]  ACTIVE  \
             gateways=10.0.1.0/24,10.0.2.0/24,10.0.3.0/24,10.0.4.0/24,10.0.5.0/24,+2 more"
        );
        let dynamic = json!({"id": "nzo2", "name": "Block TOR", "type": "DYNAMIC",
            "usage": "BLOCKLIST", "status": "ACTIVE", "proxyType": "Tor",
            "locations": [{"country": "US", "region": "US-CA"}, {"country": "FR"}],
            "asns": ["23457", 64496]});
        assert_eq!(
            zone_line(&dynamic),
            "nzo2  Block TOR  [DYNAMIC, BLOCKLIST]  ACTIVE  locations=US/US-CA,FR  \
             asns=23457,64496  proxyType=Tor"
        );
    }

    #[test]
    fn enhanced_dynamic_zones_show_what_they_include_and_exclude() {
        let zone = json!({"id": "nzo3", "name": "DefaultEnhancedDynamicZone",
            "type": "DYNAMIC_V2", "usage": "BLOCKLIST", "status": "ACTIVE",
            "locations": {"include": [{"country": "US"}],
                          "exclude": [{"country": "US", "region": "US-TX"}]},
            "asns": {"include": ["64496"], "exclude": []},
            "ipServiceCategories": {"include": ["ALL_ANONYMIZERS"],
                                    "exclude": ["APPLE_ICLOUD_RELAY_PROXY"]}});
        assert_eq!(
            zone_line(&zone),
            "nzo3  DefaultEnhancedDynamicZone  [DYNAMIC_V2, BLOCKLIST]  ACTIVE  \
             locations.include=US  locations.exclude=US/US-TX  asns.include=64496  \
             ipServiceCategories.include=ALL_ANONYMIZERS  \
             ipServiceCategories.exclude=APPLE_ICLOUD_RELAY_PROXY"
        );
    }
}
