//! Okta's JSON shape of each object, `_links` included.
//!
//! The links are absolute URLs on the fake org (`base` is the scheme and authority the client
//! used), and they are deliberately as bulky as Okta's: the tool server is expected to strip such
//! clutter before showing results to a model.

use super::names::{OFFICES, USER_AGENTS};
use super::*;
use chrono::SecondsFormat;
use serde_json::{Map, json};

/// Okta's timestamp format: `2013-07-02T21:36:25.344Z`.
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn optional_timestamp(time: Option<DateTime<Utc>>) -> Value {
    time.map_or(Value::Null, |t| Value::String(timestamp(t)))
}

fn link(href: String) -> Value {
    json!({ "href": href })
}

fn post_link(href: String) -> Value {
    json!({ "href": href, "method": "POST" })
}

/// Id of the org's default user type.
pub const DEFAULT_USER_TYPE_ID: &str = "otydefault0000000001";

/// What a client asked the users API to leave out: the `okta-response` values of its
/// `Content-Type` (listUsers and getUser; unknown values are ignored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserOmissions {
    /// `omitCredentials`: no `credentials` object.
    pub credentials: bool,
    /// `omitCredentialsLinks`: none of the links that change credentials (change password,
    /// change recovery question, forgot password, reset password, reset factors, unlock).
    pub credentials_links: bool,
}

impl UserOmissions {
    /// From the `okta-response` values (`omitTransitioningToStatus` changes nothing here: the
    /// fake org never has a user in transition).
    pub fn from_values(values: &[String]) -> Self {
        let has = |name: &str| values.iter().any(|v| v == name);
        Self {
            credentials: has("omitCredentials"),
            credentials_links: has("omitCredentialsLinks"),
        }
    }
}

/// Links that `omitCredentialsLinks` leaves out.
const CREDENTIALS_LINKS: &[&str] = &[
    "changePassword",
    "changeRecoveryQuestion",
    "forgotPassword",
    "resetPassword",
    "resetFactors",
    "unlock",
];

impl User {
    /// The user as `GET /api/v1/users/{id}` returns it: every link of its lifecycle.
    pub fn to_json(&self, base: &str) -> Value {
        self.json_with(base, true, UserOmissions::default())
    }

    /// [`Self::to_json`] without what the client asked Okta to leave out.
    pub fn to_json_omitting(&self, base: &str, omit: UserOmissions) -> Value {
        self.json_with(base, true, omit)
    }

    /// The user as an item of a list (`GET /api/v1/users`, `GET /api/v1/groups/{id}/users`):
    /// only the `self` link, as in Okta's published `ListUsersResponse` example; the lifecycle
    /// and credential links come with `GET /api/v1/users/{id}`.
    pub fn to_list_json(&self, base: &str, omit: UserOmissions) -> Value {
        self.json_with(base, false, omit)
    }

    fn json_with(&self, base: &str, all_links: bool, omit: UserOmissions) -> Value {
        let p = &self.profile;
        let me = format!("{base}/api/v1/users/{}", self.id);
        let mut links = Map::new();
        links.insert("self".into(), link(me.clone()));
        if all_links {
            self.lifecycle_links(&me, base, &mut links);
        }
        if omit.credentials_links {
            links.retain(|name, _| !CREDENTIALS_LINKS.contains(&name.as_str()));
        }
        let mut user = json!({
            "id": self.id,
            "status": self.status.as_str(),
            "created": timestamp(self.created),
            "activated": optional_timestamp(self.activated),
            "statusChanged": optional_timestamp(self.status_changed),
            "lastLogin": optional_timestamp(self.last_login),
            "lastUpdated": timestamp(self.last_updated),
            "passwordChanged": optional_timestamp(self.password_changed),
            "type": { "id": DEFAULT_USER_TYPE_ID },
            "profile": {
                "firstName": p.first_name,
                "lastName": p.last_name,
                "mobilePhone": p.mobile_phone,
                "secondEmail": p.second_email,
                "login": p.login,
                "email": p.email,
                "department": p.department,
                "title": p.title,
                "city": p.city,
                "state": p.state,
                "countryCode": p.country_code,
                "employeeNumber": p.employee_number,
                "userType": p.user_type,
                "managerId": p.manager_id,
            },
            "credentials": {
                "password": {},
                "emails": [{ "value": p.email, "status": "VERIFIED", "type": "PRIMARY" }],
                "provider": { "type": "OKTA", "name": "OKTA" },
            },
            "_links": links,
        });
        if omit.credentials
            && let Some(user) = user.as_object_mut()
        {
            user.remove("credentials");
        }
        user
    }

    /// The links `GET /api/v1/users/{id}` adds to `self`: schema, type, lifecycle, credentials.
    fn lifecycle_links(&self, me: &str, base: &str, links: &mut Map<String, Value>) {
        links.insert(
            "schema".into(),
            link(format!(
                "{base}/api/v1/meta/schemas/user/oscdefault0000000001"
            )),
        );
        links.insert(
            "type".into(),
            link(format!(
                "{base}/api/v1/meta/types/user/{DEFAULT_USER_TYPE_ID}"
            )),
        );
        let lifecycle: &[&str] = match self.status {
            UserStatus::Staged | UserStatus::Provisioned => &["activate", "deactivate"],
            UserStatus::Active => &["suspend", "expire_password", "reset_password", "deactivate"],
            UserStatus::Suspended => &["unsuspend", "deactivate"],
            UserStatus::LockedOut => &["unlock", "reset_password", "deactivate"],
            UserStatus::Recovery | UserStatus::PasswordExpired => &["reset_password", "deactivate"],
            UserStatus::Deprovisioned => &["activate", "delete"],
        };
        for action in lifecycle {
            let name = match *action {
                "expire_password" => "expirePassword",
                "reset_password" => "resetPassword",
                other => other,
            };
            let href = if *action == "delete" {
                me.to_string()
            } else {
                format!("{me}/lifecycle/{action}")
            };
            let method = if *action == "delete" {
                "DELETE"
            } else {
                "POST"
            };
            links.insert(name.into(), json!({ "href": href, "method": method }));
        }
        if self.status == UserStatus::Active {
            links.insert(
                "changePassword".into(),
                post_link(format!("{me}/credentials/change_password")),
            );
            links.insert(
                "changeRecoveryQuestion".into(),
                post_link(format!("{me}/credentials/change_recovery_question")),
            );
            links.insert(
                "forgotPassword".into(),
                post_link(format!("{me}/credentials/forgot_password")),
            );
        }
    }
}

impl Group {
    /// The group as `GET /api/v1/groups/{id}` returns it.
    pub fn to_json(&self, base: &str) -> Value {
        let me = format!("{base}/api/v1/groups/{}", self.id);
        let logo_kind = if self.group_type == GroupType::AppGroup {
            "active_directory"
        } else {
            "okta"
        };
        let mut links = json!({
            "logo": [
                { "name": "medium", "href": format!("{base}/assets/img/logos/groups/odyssey/{logo_kind}-medium.png"), "type": "image/png" },
                { "name": "large", "href": format!("{base}/assets/img/logos/groups/odyssey/{logo_kind}-large.png"), "type": "image/png" },
            ],
            "users": link(format!("{me}/users")),
            "apps": link(format!("{me}/apps")),
        });
        let mut profile = json!({ "name": self.name, "description": self.description });
        let mut object = json!({
            "id": self.id,
            "created": timestamp(self.created),
            "lastUpdated": timestamp(self.last_updated),
            "lastMembershipUpdated": timestamp(self.last_membership_updated),
            "objectClass": ["okta:user_group"],
            "type": self.group_type.as_str(),
        });
        if self.group_type == GroupType::AppGroup {
            let account = self.name.replace(' ', "");
            profile["samAccountName"] = json!(account);
            profile["dn"] = json!(format!("CN={},OU=Groups,DC=example,DC=com", self.name));
            profile["windowsDomainQualifiedName"] = json!(format!("EXAMPLE\\{account}"));
            profile["groupType"] = json!("Security");
            profile["groupScope"] = json!("Global");
            object["objectClass"] = json!(["okta:windows_security_principal"]);
            if let Some(app_id) = &self.source_app_id {
                object["source"] = json!({ "id": app_id });
                links["source"] = link(format!("{base}/api/v1/apps/{app_id}"));
            }
        }
        object["profile"] = profile;
        object["_links"] = links;
        object
    }
}

impl App {
    /// The app as `GET /api/v1/apps/{id}` returns it.
    pub fn to_json(&self, base: &str) -> Value {
        let me = format!("{base}/api/v1/apps/{}", self.id);
        let link_name = format!("{}_link", self.name);
        let sign_on = match self.sign_on_mode.as_str() {
            "SAML_2_0" => json!({
                "defaultRelayState": "",
                "ssoAcsUrl": format!("https://{}.example.com/sso/saml", self.name),
                "audience": format!("https://{}.example.com", self.name),
                "recipient": format!("https://{}.example.com/sso/saml", self.name),
                "destination": format!("https://{}.example.com/sso/saml", self.name),
                "subjectNameIdTemplate": "${user.userName}",
                "subjectNameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                "responseSigned": true,
                "assertionSigned": true,
                "signatureAlgorithm": "RSA_SHA256",
                "digestAlgorithm": "SHA256",
                "honorForceAuthn": true,
                "requestCompressed": false,
                "allowMultipleAcsEndpoints": false,
                "authnContextClassRef": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "attributeStatements": [],
            }),
            "OPENID_CONNECT" => json!({
                "redirect_uris": [format!("https://{}.example.com/callback", self.label.to_ascii_lowercase().replace(' ', "-"))],
                "response_types": ["code"],
                "grant_types": ["authorization_code", "refresh_token"],
                "application_type": "web",
                "consent_method": "REQUIRED",
                "issuer_mode": "ORG_URL",
            }),
            _ => json!({}),
        };
        // What each kind of app must say about itself (Okta's spec marks these required).
        let site = format!(
            "https://{}.example.com",
            self.label.to_ascii_lowercase().replace(' ', "-")
        );
        let app = match self.sign_on_mode.as_str() {
            "BOOKMARK" => json!({ "url": format!("{site}/"), "requestIntegration": false }),
            "BROWSER_PLUGIN" | "SECURE_PASSWORD_STORE" => json!({
                "url": format!("{site}/login"),
                "usernameField": "username",
                "passwordField": "password",
                "buttonField": "login",
            }),
            "BASIC_AUTH" => json!({ "url": format!("{site}/"), "authURL": format!("{site}/auth") }),
            "WS_FEDERATION" => json!({
                "audienceRestriction": format!("urn:federation:{}", self.name),
                "groupValueFormat": "windowsDomainQualifiedName",
                "wReplyURL": format!("{site}/_trust/"),
                "nameIDFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
                "authnContextClassRef": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                "siteURL": format!("{site}/"),
                "usernameAttribute": "username",
                "realm": format!("urn:okta:app:{}", self.id),
            }),
            _ => json!({}),
        };
        let mut settings = json!({
            "app": app,
            "notifications": { "vpn": { "network": { "connection": "DISABLED" }, "message": null, "helpUrl": null } },
            "manualProvisioning": false,
            "implicitAssignment": false,
            "notes": { "admin": null, "enduser": null },
        });
        if self.sign_on_mode == "OPENID_CONNECT" {
            settings["oauthClient"] = sign_on;
        } else {
            settings["signOn"] = sign_on;
        }
        let mut object = json!({
            "id": self.id,
            "name": self.name,
            "label": self.label,
            "status": self.status,
            "lastUpdated": timestamp(self.last_updated),
            "created": timestamp(self.created),
            "accessibility": { "selfService": false, "errorRedirectUrl": null, "loginRedirectUrl": null },
            "visibility": {
                "autoLaunch": false,
                "autoSubmitToolbar": false,
                "hide": { "iOS": false, "web": false },
                "appLinks": { link_name.clone(): true },
            },
            "features": [],
            "signOnMode": self.sign_on_mode,
            "credentials": {
                "userNameTemplate": { "template": "${source.login}", "type": "BUILT_IN" },
                "signing": { "kid": format!("kid-{}", self.id.get(3..13).unwrap_or_default()) },
            },
            "settings": settings,
            "_links": {
                "help": { "href": format!("{base}/app/{}/{}/setup/help/SAML_2_0/external-doc", self.name, self.id), "type": "text/html" },
                "metadata": { "href": format!("{me}/sso/saml/metadata"), "type": "application/xml" },
                "appLinks": [{ "name": link_name, "href": format!("{base}/home/{}/{}/alnk", self.name, self.id), "type": "text/html" }],
                "groups": link(format!("{me}/groups")),
                "logo": [{ "name": "medium", "href": format!("{base}/assets/img/logos/{}-medium.png", self.name), "type": "image/png" }],
                "users": link(format!("{me}/users")),
                "deactivate": link(format!("{me}/lifecycle/deactivate")),
                "policies": link(format!("{me}/policies")),
                "uploadLogo": { "href": format!("{me}/logo"), "hints": { "allow": ["POST"] } },
            },
        });
        if self.sign_on_mode == "OPENID_CONNECT" {
            object["credentials"]["oauthClient"] = json!({
                "autoKeyRotation": true,
                "client_id": self.id,
                "token_endpoint_auth_method": "client_secret_basic",
            });
        }
        object
    }
}

/// An entry of `GET /api/v1/apps/{id}/users`.
pub fn app_user_json(
    app: &App,
    user: &User,
    scope: AssignmentScope,
    groups: &[Group],
    base: &str,
) -> Value {
    let mut links = json!({
        "app": link(format!("{base}/api/v1/apps/{}", app.id)),
        "user": link(format!("{base}/api/v1/users/{}", user.id)),
    });
    let scope_name = match scope {
        AssignmentScope::User => "USER",
        AssignmentScope::Group(index) => {
            if let Some(group) = groups.get(index) {
                links["group"] = json!({
                    "name": group.name,
                    "href": format!("{base}/api/v1/groups/{}", group.id),
                });
            }
            "GROUP"
        }
    };
    let status = if user.status == UserStatus::Active {
        "ACTIVE"
    } else {
        "PROVISIONED"
    };
    json!({
        "id": user.id,
        "externalId": null,
        "created": timestamp(user.created.max(app.created)),
        "lastUpdated": timestamp(user.last_updated.max(app.created)),
        "scope": scope_name,
        "status": status,
        "statusChanged": timestamp(user.created.max(app.created)),
        "passwordChanged": null,
        "syncState": "DISABLED",
        "credentials": { "userName": user.profile.login },
        "profile": {
            "email": user.profile.email,
            "firstName": user.profile.first_name,
            "lastName": user.profile.last_name,
        },
        "_links": links,
    })
}

/// An entry of `GET /api/v1/apps/{id}/groups`.
pub fn app_group_json(app: &App, group: &Group, priority: usize, base: &str) -> Value {
    json!({
        "id": group.id,
        "lastUpdated": timestamp(group.last_updated.max(app.created)),
        "priority": priority,
        "profile": {},
        "_links": {
            "app": link(format!("{base}/api/v1/apps/{}", app.id)),
            "self": link(format!("{base}/api/v1/apps/{}/groups/{}", app.id, group.id)),
            "group": link(format!("{base}/api/v1/groups/{}", group.id)),
        },
    })
}

/// Deterministic id for an object that only exists as a pairing (an assignment).
fn derived_id(prefix: &str, a: &str, b: &str) -> String {
    // FNV-1a over both ids seeds a generator, so the id is stable across runs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in a.bytes().chain([0]).chain(b.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    crate::fake_okta::rng::SeededRng::new(hash).okta_id(prefix)
}

/// An entry of `GET /api/v1/users/{id}/appLinks`.
pub fn app_link_json(user: &User, app: &App, sort_order: usize, base: &str) -> Value {
    json!({
        "id": derived_id("00u", &user.id, &app.id),
        "label": app.label,
        "linkUrl": format!("{base}/home/{}/{}/alnk", app.name, app.id),
        "logoUrl": format!("{base}/assets/img/logos/{}-medium.png", app.name),
        "appName": app.name,
        "appInstanceId": app.id,
        "appAssignmentId": derived_id("0ua", &user.id, &app.id),
        "credentialsSetup": false,
        "hidden": false,
        "sortOrder": sort_order,
    })
}

impl Factor {
    /// The factor as `GET /api/v1/users/{id}/factors` lists it.
    pub fn to_json(&self, base: &str) -> Value {
        let me = format!("{base}/api/v1/users/{}/factors/{}", self.user_id, self.id);
        json!({
            "id": self.id,
            "factorType": self.factor_type,
            "provider": self.provider,
            "vendorName": self.vendor_name,
            "status": self.status,
            "created": timestamp(self.created),
            "lastUpdated": timestamp(self.last_updated),
            "profile": self.profile,
            "_links": {
                "self": { "href": me, "hints": { "allow": ["GET", "DELETE"] } },
                "verify": { "href": format!("{me}/verify"), "hints": { "allow": ["POST"] } },
                "user": { "href": format!("{base}/api/v1/users/{}", self.user_id), "hints": { "allow": ["GET"] } },
            },
        })
    }
}

fn party_json(party: &LogParty) -> Value {
    json!({
        "id": party.id,
        "type": party.party_type,
        "alternateId": party.alternate_id,
        "displayName": party.display_name,
        "detailEntry": null,
    })
}

impl LogEvent {
    /// The event as `GET /api/v1/logs` returns it.
    pub fn to_json(&self) -> Value {
        let (raw_agent, os, browser) = USER_AGENTS
            .get(self.user_agent)
            .copied()
            .unwrap_or(USER_AGENTS[0]);
        let (city, state, country) = OFFICES.get(self.office).copied().unwrap_or(OFFICES[0]);
        let geo = json!({
            "city": city,
            "state": state,
            "country": country,
            "geolocation": { "lat": 37.7749, "lon": -122.4194 },
        });
        let targets: Vec<Value> = self.targets.iter().map(party_json).collect();
        let mut event = json!({
            "uuid": self.uuid,
            "published": timestamp(self.published),
            "eventType": self.event_type,
            "version": "0",
            "severity": self.severity,
            "displayMessage": self.display_message,
            "actor": party_json(&self.actor),
            "client": {
                "userAgent": { "rawUserAgent": raw_agent, "os": os, "browser": browser },
                "zone": self.zone.clone().unwrap_or_else(|| "null".to_owned()),
                "device": if os == "iOS" { "Mobile" } else { "Computer" },
                "ipAddress": self.client_ip,
                "geographicalContext": geo,
            },
            "device": null,
            "authenticationContext": {
                "authenticationProvider": null,
                "credentialProvider": null,
                "credentialType": null,
                "issuer": null,
                "interface": null,
                "authenticationStep": 0,
                "externalSessionId": self.session_id,
            },
            "outcome": { "result": self.outcome, "reason": self.outcome_reason },
            "securityContext": {
                "asNumber": 64500,
                "asOrg": "example transit",
                "isp": "example isp",
                "domain": "example.net",
                "isProxy": false,
            },
            "debugContext": {
                "debugData": {
                    "requestId": self.request_id,
                    "requestUri": "/api/v1/authn",
                    "threatSuspected": "false",
                    "url": "/api/v1/authn?",
                },
            },
            "transaction": { "type": "WEB", "id": self.transaction_id, "detail": {} },
            "request": {
                "ipChain": [{ "ip": self.client_ip, "geographicalContext": geo, "version": "V4", "source": null }],
            },
        });
        // Okta's spec types `target` as an array, never null: an event without one has none.
        if !targets.is_empty() {
            event["target"] = Value::Array(targets);
        }
        // Only events that have one carry a legacy type (Okta's spec: a string, not null).
        if let Some(legacy) = &self.legacy_event_type {
            event["legacyEventType"] = json!(legacy);
        }
        event
    }
}

impl PolicyRule {
    /// The rule as `GET /api/v1/policies/{id}/rules/{ruleId}` returns it.
    pub fn to_json(&self, policy_id: &str, base: &str) -> Value {
        let me = format!("{base}/api/v1/policies/{policy_id}/rules/{}", self.id);
        let toggle = if self.status == "ACTIVE" {
            "deactivate"
        } else {
            "activate"
        };
        json!({
            "id": self.id,
            "status": self.status,
            "name": self.name,
            "priority": self.priority,
            "created": timestamp(self.created),
            "lastUpdated": timestamp(self.last_updated),
            "system": self.system,
            "conditions": self.conditions,
            "actions": self.actions,
            "type": self.rule_type,
            "_links": {
                "self": { "href": me, "hints": { "allow": ["GET", "PUT", "DELETE"] } },
                toggle: { "href": format!("{me}/lifecycle/{toggle}"), "hints": { "allow": ["POST"] } },
            },
        })
    }
}

impl Policy {
    /// The policy as `GET /api/v1/policies/{id}` returns it.
    pub fn to_json(&self, base: &str) -> Value {
        let me = format!("{base}/api/v1/policies/{}", self.id);
        let toggle = if self.status == "ACTIVE" {
            "deactivate"
        } else {
            "activate"
        };
        let mut object = json!({
            "id": self.id,
            "status": self.status,
            "name": self.name,
            "description": self.description,
            "priority": self.priority,
            "system": self.system,
            "conditions": self.conditions,
            "created": timestamp(self.created),
            "lastUpdated": timestamp(self.last_updated),
            "type": self.policy_type,
            "_links": {
                "self": { "href": me, "hints": { "allow": ["GET", "PUT", "DELETE"] } },
                "rules": { "href": format!("{me}/rules"), "hints": { "allow": ["GET", "POST"] } },
                toggle: { "href": format!("{me}/lifecycle/{toggle}"), "hints": { "allow": ["POST"] } },
            },
        });
        if !self.settings.is_null() {
            object["settings"] = self.settings.clone();
        }
        object
    }
}

impl NetworkZone {
    /// The zone as `GET /api/v1/zones/{id}` returns it.
    pub fn to_json(&self, base: &str) -> Value {
        let me = format!("{base}/api/v1/zones/{}", self.id);
        let addresses = |list: &[(String, String)]| -> Value {
            if list.is_empty() {
                Value::Null
            } else {
                list.iter()
                    .map(|(kind, value)| json!({ "type": kind, "value": value }))
                    .collect()
            }
        };
        let toggle = if self.status == "ACTIVE" {
            "deactivate"
        } else {
            "activate"
        };
        let mut object = json!({
            "type": self.zone_type,
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "usage": self.usage,
            "created": timestamp(self.created),
            "lastUpdated": timestamp(self.last_updated),
            "system": self.system,
            "_links": {
                "self": { "href": me, "hints": { "allow": ["GET", "PUT", "DELETE"] } },
                toggle: { "href": format!("{me}/lifecycle/{toggle}"), "hints": { "allow": ["POST"] } },
            },
        });
        let locations = |list: &[(String, Option<String>)]| -> Value {
            list.iter()
                .map(|(country, region)| json!({ "country": country, "region": region }))
                .collect()
        };
        match self.zone_type.as_str() {
            "IP" => {
                object["gateways"] = addresses(&self.gateways);
                object["proxies"] = addresses(&self.proxies);
            }
            // An enhanced dynamic zone says what it includes and what it excludes.
            "DYNAMIC_V2" => {
                let (included, excluded) = &self.ip_service_categories;
                object["locations"] = json!({
                    "include": locations(&self.locations),
                    "exclude": locations(&self.excluded_locations),
                });
                object["asns"] = json!({ "include": self.asns, "exclude": self.excluded_asns });
                object["ipServiceCategories"] = json!({ "include": included, "exclude": excluded });
            }
            _ => {
                object["locations"] = locations(&self.locations);
                object["proxyType"] = json!(self.proxy_type);
                object["asns"] = json!(self.asns);
            }
        }
        object
    }
}
