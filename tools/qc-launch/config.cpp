// Reading MASTER_CONFIG.json: ACCOUNTS stays the user's, LAUNCH says what to run. Every
// error names the key, the program, the account, or the line and column, and exits 78
// before anything starts.
#include "config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "qc/exit_codes.hpp"
#include "qc/names.hpp"
#include "qc/paths.hpp"
#include "qc/text.hpp"

namespace qc::launch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;  // keeps ACCOUNTS in the config's order
constexpr std::uintmax_t kMaxConfigBytes = 16u << 20;

// Thrown inside this file only, caught in parse_launch_plan: the first problem ends parsing.
struct Invalid {
  std::string message;
};

[[noreturn]] void fail(const std::string& message) { throw Invalid{message}; }

const char* type_name(const json& j) { return j.type_name(); }

double number_at(const json& object, const char* key, const std::string& where, double min) {
  const json& v = object.at(key);
  if (!v.is_number()) {
    fail(where + ": \"" + key + "\" must be a number, not " + type_name(v));
  }
  const double d = v.get<double>();
  if (!(d >= min)) {
    fail(where + ": \"" + key + "\" must be at least " + std::to_string(static_cast<int>(min)));
  }
  // A year; more would overflow a deadline (a stop timeout of 1e10 meant SIGKILL at once).
  if (d > 31536000) fail(where + ": \"" + key + "\" must be at most 31536000 (a year)");
  return d;
}

std::string string_at(const json& object, const char* key, const std::string& where) {
  const json& v = object.at(key);
  if (!v.is_string()) fail(where + ": \"" + key + "\" must be a string, not " + type_name(v));
  return v.get<std::string>();
}

// An account field as placeholder text.
std::optional<std::string> field_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return v.dump();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return std::nullopt;
}

// Expands {key} and {FIELD}; "{{" and "}}" stand for braces.
struct Expander {
  const std::string* program;            // for messages
  const std::string* account_key;        // nullptr outside for_each
  const json* account;                   // the account's object

  std::string operator()(const std::string& text, const std::string& what) const {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '}') {
        if (i + 1 < text.size() && text[i + 1] == '}') ++i;
        out += '}';
        continue;
      }
      if (c != '{') {
        out += c;
        continue;
      }
      if (i + 1 < text.size() && text[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      const auto close = text.find('}', i);
      if (close == std::string::npos) {
        fail("program " + *program + ": unclosed '{' in " + what + " \"" + text + "\"");
      }
      const std::string field = text.substr(i + 1, close - i - 1);
      i = close;
      if (account_key == nullptr) {
        fail("program " + *program + ": " + what + " uses {" + field +
             "} but the program has no \"for_each\": \"account\"");
      }
      if (field == "key") {
        out += *account_key;
        continue;
      }
      auto it = account->find(field);
      if (it == account->end()) {
        fail("program " + *program + ", account " + *account_key + ": " + what + " uses {" +
             field + "} but ACCOUNTS." + *account_key + " has no field \"" + field + "\"");
      }
      auto value = field_text(*it);
      if (!value) {
        fail("program " + *program + ", account " + *account_key + ": field \"" + field +
             "\" is " + type_name(*it) + ", not a string or number");
      }
      out += *value;
    }
    return out;
  }
};

const std::set<std::string> kLaunchKeys = {"name", "lock_dir", "log_dir", "defaults", "programs", "on_event", "fleet"};
const std::set<std::string> kPolicyKeys = {"restart", "max_restarts", "backoff_s", "reset_after_s",
                                           "stop_timeout_s", "stop_signal"};
const std::set<std::string> kProgramKeys = {"name",  "command", "for_each", "account",
                                            "start_delay_s", "ready", "cwd", "env", "health"};

void reject_unknown_keys(const json& object, const std::set<std::string>& allowed,
                         const std::set<std::string>& also, const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    (void)value;
    if (!allowed.count(key) && !also.count(key)) {
      std::string known;
      for (const auto* set : {&allowed, &also}) {
        for (const auto& k : *set) known += (known.empty() ? "" : ", ") + k;
      }
      fail(where + ": unknown key \"" + key + "\" (known: " + known + ")");
    }
  }
}

// Restart policy keys, on top of `base`.
void read_policy(const json& object, const std::string& where, ProgramSpec& spec) {
  if (object.contains("restart")) {
    const std::string mode = string_at(object, "restart", where);
    auto parsed = parse_restart_mode(mode);
    if (!parsed) fail(where + ": \"restart\" must be \"no\", \"on-failure\" or \"always\", not \"" + mode + "\"");
    spec.restart.mode = *parsed;
  }
  if (object.contains("max_restarts")) {
    const json& v = object.at("max_restarts");
    if (!v.is_number_integer() && !v.is_number_unsigned()) {
      fail(where + ": \"max_restarts\" must be an integer, not " + type_name(v));
    }
    const auto n = v.get<long long>();
    if (n < 0 || n > 1000000) fail(where + ": \"max_restarts\" must be between 0 and 1000000");
    spec.restart.max_restarts = static_cast<int>(n);
  }
  if (object.contains("backoff_s")) {
    const json& v = object.at("backoff_s");
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
      fail(where + ": \"backoff_s\" must be [INITIAL, MAX] in seconds");
    }
    const double initial = v[0].get<double>(), max = v[1].get<double>();
    if (!(initial >= 0) || !(max >= initial)) {
      fail(where + ": \"backoff_s\" needs 0 <= INITIAL <= MAX");
    }
    spec.restart.backoff_initial_s = initial;
    spec.restart.backoff_max_s = max;
  }
  if (object.contains("reset_after_s")) {
    spec.restart.reset_after_s = number_at(object, "reset_after_s", where, 0);
  }
  if (object.contains("stop_timeout_s")) {
    spec.stop_timeout_s = number_at(object, "stop_timeout_s", where, 0);
  }
  if (object.contains("stop_signal")) {
    const std::string name = string_at(object, "stop_signal", where);
    auto parsed = parse_signal_name(name);
    if (!parsed || *parsed == Signal::kKill) {
      fail(where + ": \"stop_signal\" must be \"TERM\", \"INT\", \"QUIT\", \"HUP\", \"USR1\" or \"USR2\", not \"" +
           name + "\"");
    }
    spec.stop_signal = *parsed;
  }
}

std::string resolve(const fs::path& base, const std::string& path) {
  if (path.empty()) return path_string(base);
  const fs::path p = to_path(path);
  return path_string((p.is_absolute() ? p : base / p).lexically_normal());
}

ReadySpec read_ready(const json& v, const std::string& where, const Expander& expand) {
  if (!v.is_object()) fail(where + ": \"ready\" must be an object");
  reject_unknown_keys(v, {"tcp", "heartbeat", "timeout_s"}, {}, where + ": \"ready\"");
  ReadySpec ready;
  const bool tcp = v.contains("tcp"), heartbeat = v.contains("heartbeat");
  if (tcp && heartbeat) fail(where + ": \"ready\" takes \"tcp\" or \"heartbeat\", not both");
  if (tcp) {
    ready.kind = ReadySpec::Kind::kTcp;
    ready.target = expand(string_at(v, "tcp", where + ": ready"), "ready.tcp");
    const auto colon = ready.target.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ready.target.size()) {
      fail(where + ": ready.tcp \"" + ready.target + "\" must be HOST:PORT");
    }
  } else if (heartbeat) {
    ready.kind = ReadySpec::Kind::kHeartbeat;
    ready.target = expand(string_at(v, "heartbeat", where + ": ready"), "ready.heartbeat");
    if (ready.target.rfind("tcp://", 0) != 0) {
      fail(where + ": ready.heartbeat \"" + ready.target + "\" must be a tcp://HOST:PORT endpoint");
    }
  }
  if (v.contains("timeout_s")) {
    ready.timeout_s = number_at(v, "timeout_s", where + ": ready", 0);
    if (ready.timeout_s <= 0) fail(where + ": ready.timeout_s must be positive");
  }
  return ready;
}

HealthSpec read_health(const json& v, const std::string& where, const Expander& expand) {
  if (!v.is_object()) fail(where + ": \"health\" must be an object");
  reject_unknown_keys(v, {"tcp", "heartbeat", "interval_s", "timeout_s", "failures"}, {}, where + ": \"health\"");
  if (!v.contains("tcp") && !v.contains("heartbeat")) {
    fail(where + ": \"health\" needs \"tcp\": \"HOST:PORT\" or \"heartbeat\": \"tcp://HOST:PORT\"");
  }
  json probe = json::object();
  for (const char* key : {"tcp", "heartbeat"}) {
    if (v.contains(key)) probe[key] = v.at(key);
  }
  HealthSpec health;
  health.check = read_ready(probe, where + " (health)", expand);
  health.check.timeout_s = 5;
  if (v.contains("timeout_s")) {
    health.check.timeout_s = number_at(v, "timeout_s", where + ": health", 0);
    if (health.check.timeout_s <= 0) fail(where + ": health.timeout_s must be positive");
  }
  if (v.contains("interval_s")) {
    health.interval_s = number_at(v, "interval_s", where + ": health", 0);
    if (health.interval_s < 0.1) fail(where + ": health.interval_s must be at least 0.1");
  }
  if (v.contains("failures")) {
    const json& f = v.at("failures");
    if (!f.is_number_integer() || f.get<long long>() < 1 || f.get<long long>() > 1000) {
      fail(where + ": health.failures must be an integer from 1 to 1000");
    }
    health.failures = static_cast<int>(f.get<long long>());
  }
  return health;
}

// One program entry, expanded for one account (or for none).
PlannedProgram expand_program(const json& p, const std::string& label, const ProgramSpec& defaults,
                              const fs::path& base, const std::string* account_key,
                              const json* account) {
  const std::string raw_name = string_at(p, "name", label);
  const Expander expand{&raw_name, account_key, account};
  PlannedProgram out;
  out.spec = defaults;
  out.spec.name = expand(raw_name, "name");
  const std::string where = "program " + out.spec.name;
  if (Status s = validate_lock_name(out.spec.name); !s) {
    fail(label + ": name \"" + raw_name + "\" gives " + s.error().message);
  }
  const json& command = p.at("command");
  if (!command.is_array() || command.empty()) {
    fail(where + ": \"command\" must be a non-empty array of strings");
  }
  for (const auto& arg : command) {
    if (!arg.is_string()) fail(where + ": \"command\" must hold strings only, not " + std::string(type_name(arg)));
    out.spec.command.push_back(expand(arg.get<std::string>(), "command"));
  }
  if (out.spec.command[0].empty()) fail(where + ": \"command\" starts with an empty string");
  if (p.contains("account")) {
    const json& a = p.at("account");
    auto text = field_text(a);
    if (!text || a.is_boolean()) fail(where + ": \"account\" must be a string or a number");
    out.spec.account = expand(*text, "account");
  }
  if (p.contains("start_delay_s")) out.start_delay_s = number_at(p, "start_delay_s", where, 0);
  if (p.contains("ready")) out.ready = read_ready(p.at("ready"), where, expand);
  if (p.contains("health")) out.health = read_health(p.at("health"), where, expand);
  out.spec.needs_ready = out.ready.kind != ReadySpec::Kind::kNone;
  out.spec.cwd = p.contains("cwd") ? resolve(base, expand(string_at(p, "cwd", where), "cwd"))
                                   : base.string();
  if (p.contains("env")) {
    const json& env = p.at("env");
    if (!env.is_object()) fail(where + ": \"env\" must be an object of strings");
    for (const auto& [key, value] : env.items()) {
      auto text = field_text(value);
      if (!text || key.empty() || key.find('=') != std::string::npos) {
        fail(where + ": env \"" + key + "\" must be a name mapped to a string or number");
      }
      out.spec.env.emplace_back(key, expand(*text, "env." + key));
    }
  }
  read_policy(p, where, out.spec);
  if (account_key != nullptr) out.account_key = *account_key;
  return out;
}

// Where a string (or a key) holds a NUL: such a string would be shown up to the NUL and run
// in full, or the other way round.
std::optional<std::string> string_with_nul(const json& v, const std::string& where) {
  auto has_nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  if (v.is_string()) {
    if (has_nul(v.get_ref<const std::string&>())) return where.empty() ? "the top level" : where;
  } else if (v.is_object()) {
    for (const auto& [key, value] : v.items()) {
      const std::string inner = where.empty() ? key : where + "." + key;
      if (has_nul(key)) return "a key in " + (where.empty() ? std::string("the top level") : where);
      if (auto found = string_with_nul(value, inner)) return found;
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (auto found = string_with_nul(v[i], where + "[" + std::to_string(i) + "]")) return found;
    }
  }
  return std::nullopt;
}

const std::set<std::string> kFleetKeys = {"etcd", "prefix", "ttl_s", "cacert", "cert", "key", "prefer"};

// LAUNCH.fleet (docs/fleet.md), but "prefer", which is each program's.
FleetOptions read_fleet(const json& f, const fs::path& base) {
  if (!f.is_object()) fail("LAUNCH.fleet must be an object with \"etcd\": [\"http://HOST:2379\", ...]");
  reject_unknown_keys(f, kFleetKeys, {}, "LAUNCH.fleet");
  FleetOptions o;
  if (!f.contains("etcd")) fail("LAUNCH.fleet: no \"etcd\" (the cluster's client URLs, e.g. [\"http://10.0.0.1:2379\"])");
  const json& etcd = f.at("etcd");
  std::vector<std::string> urls;
  if (etcd.is_string()) {
    urls.push_back(etcd.get<std::string>());
  } else if (etcd.is_array()) {
    for (const auto& u : etcd) {
      if (!u.is_string()) fail("LAUNCH.fleet.etcd must hold strings only, not " + std::string(type_name(u)));
      urls.push_back(u.get<std::string>());
    }
  } else {
    fail("LAUNCH.fleet.etcd must be a URL or a list of URLs, not " + std::string(type_name(etcd)));
  }
  if (urls.empty()) fail("LAUNCH.fleet.etcd names no endpoint");
  for (const auto& u : urls) {
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
      fail("LAUNCH.fleet.etcd: '" + u + "' is not an http:// or https:// URL (e.g. http://127.0.0.1:2379)");
    }
    o.etcd += (o.etcd.empty() ? "" : ",") + u;
  }
  if (f.contains("prefix")) {
    o.prefix = string_at(f, "prefix", "LAUNCH.fleet");
    if (o.prefix.empty()) fail("LAUNCH.fleet.prefix is empty (the default is \"/qc/\")");
  }
  if (f.contains("ttl_s")) {
    const json& t = f.at("ttl_s");
    if (!t.is_number() || t.get<double>() < 1 || t.get<double>() > 3600) {
      fail("LAUNCH.fleet.ttl_s must be a number of seconds from 1 to 3600");
    }
    o.ttl_s = t.get<double>();
  }
  for (auto [key, field] : {std::pair{"cacert", &o.cacert}, std::pair{"cert", &o.cert}, std::pair{"key", &o.key}}) {
    if (f.contains(key)) *field = resolve(base, string_at(f, key, "LAUNCH.fleet"));
  }
  return o;
}

// The host that takes `program` back (LAUNCH.fleet.prefer): one for every program (a string),
// or by program name, then by account key (an object); placeholders as in the program.
std::string preferred_host(const json& prefer, const PlannedProgram& program, const json* account) {
  const std::string& name = program.spec.name;
  std::string text;
  if (prefer.is_string()) {
    text = prefer.get<std::string>();
  } else if (prefer.is_object()) {
    for (const auto& [key, value] : prefer.items()) {
      if (!value.is_string()) fail("LAUNCH.fleet.prefer." + key + " must be a host name, not " + type_name(value));
    }
    if (prefer.contains(name)) {
      text = prefer.at(name).get<std::string>();
    } else if (!program.account_key.empty() && prefer.contains(program.account_key)) {
      text = prefer.at(program.account_key).get<std::string>();
    }
  } else {
    fail("LAUNCH.fleet.prefer must be a host name, or an object of program names or account keys to host names");
  }
  const std::string* key = program.account_key.empty() ? nullptr : &program.account_key;
  return Expander{&name, key, account}(text, "LAUNCH.fleet.prefer");
}

LaunchPlan build_plan(const json& root, const std::string& path, const LoadOptions& options) {
  const std::string file = path_string(to_path(path).filename());
  if (!root.is_object()) fail("the top level must be an object with ACCOUNTS and LAUNCH");
  if (!root.contains("LAUNCH")) {
    fail("no \"LAUNCH\" section; it says which programs to run (see qc-launch --help)");
  }
  const json& launch = root.at("LAUNCH");
  if (!launch.is_object()) fail("\"LAUNCH\" must be an object");
  reject_unknown_keys(launch, kLaunchKeys, {}, "LAUNCH");

  const fs::path base = fs::absolute(to_path(path)).parent_path();
  LaunchPlan plan;
  plan.config_path = path;
  if (launch.contains("name")) plan.name = string_at(launch, "name", "LAUNCH");
  if (Status s = validate_lock_name(plan.name); !s) fail("LAUNCH.name: " + s.error().message);
  plan.lock_dir = options.lock_dir
                      ? *options.lock_dir
                      : resolve(base, launch.contains("lock_dir") ? string_at(launch, "lock_dir", "LAUNCH")
                                                                 : ".locks");
  if (options.log_dir) {
    plan.log_dir = options.log_dir;
  } else if (launch.contains("log_dir")) {
    plan.log_dir = resolve(base, string_at(launch, "log_dir", "LAUNCH"));
  }

  if (launch.contains("on_event")) {
    const json& command = launch.at("on_event");
    if (!command.is_array() || command.empty()) fail("LAUNCH.on_event must be a non-empty array of strings");
    for (const auto& arg : command) {
      if (!arg.is_string()) fail("LAUNCH.on_event must hold strings only, not " + std::string(type_name(arg)));
      plan.on_event.push_back(arg.get<std::string>());
    }
    std::string& program = plan.on_event[0];
    if (program.empty()) fail("LAUNCH.on_event starts with an empty string");
    // A path (not a bare name looked up in PATH) is relative to the config's directory.
    if (program.find_first_of("/\\") != std::string::npos) program = resolve(base, program);
  }

  ProgramSpec defaults;
  if (launch.contains("defaults")) {
    const json& d = launch.at("defaults");
    if (!d.is_object()) fail("LAUNCH.defaults must be an object");
    reject_unknown_keys(d, kPolicyKeys, {}, "LAUNCH.defaults");
    read_policy(d, "LAUNCH.defaults", defaults);
  }

  // Accounts: in the config's order; --accounts picks, otherwise "enabled": true does.
  std::vector<std::pair<std::string, const json*>> accounts;
  const json* all_accounts = nullptr;
  if (root.contains("ACCOUNTS")) {
    all_accounts = &root.at("ACCOUNTS");
    if (!all_accounts->is_object()) fail("\"ACCOUNTS\" must be an object");
  }
  for (const auto& wanted : options.accounts) {
    if (all_accounts == nullptr || !all_accounts->contains(wanted)) {
      std::string known;
      if (all_accounts != nullptr) {
        for (const auto& [key, value] : all_accounts->items()) {
          (void)value;
          known += (known.empty() ? "" : ", ") + key;
        }
      }
      throw ConfigFailure{exit_code::kUsage, "--accounts " + wanted + ": no such account in " + file +
                                                 (known.empty() ? "" : " (it has: " + known + ")")};
    }
  }
  if (all_accounts != nullptr) {
    for (const auto& [key, value] : all_accounts->items()) {
      if (!value.is_object()) fail("ACCOUNTS." + key + " must be an object");
      bool selected;
      if (!options.accounts.empty()) {
        selected = std::find(options.accounts.begin(), options.accounts.end(), key) != options.accounts.end();
      } else {
        auto enabled = value.find("enabled");
        if (enabled != value.end() && !enabled->is_boolean()) {
          fail("ACCOUNTS." + key + ": \"enabled\" must be true or false, not " + type_name(*enabled));
        }
        selected = enabled != value.end() && enabled->get<bool>();
      }
      if (selected) accounts.emplace_back(key, &value);
    }
  }

  const json* prefer = nullptr;
  if (launch.contains("fleet")) {
    plan.fleet = read_fleet(launch.at("fleet"), base);
    if (launch.at("fleet").contains("prefer")) prefer = &launch.at("fleet").at("prefer");
  }

  if (!launch.contains("programs")) fail("LAUNCH: no \"programs\" list");
  const json& programs = launch.at("programs");
  if (!programs.is_array()) fail("LAUNCH.programs must be an array");
  std::map<std::string, std::string> seen;  // name -> where it came from
  seen[plan.name] = "LAUNCH.name";
  for (std::size_t i = 0; i < programs.size(); ++i) {
    const json& p = programs[i];
    const std::string label = "LAUNCH.programs[" + std::to_string(i) + "]";
    if (!p.is_object()) fail(label + " must be an object");
    if (!p.contains("name")) fail(label + ": no \"name\"");
    const std::string where = "program " + (p.at("name").is_string() ? p.at("name").get<std::string>() : label);
    reject_unknown_keys(p, kProgramKeys, kPolicyKeys, where);
    if (!p.contains("command")) fail(where + ": no \"command\"");
    std::vector<PlannedProgram> expanded;
    if (p.contains("for_each")) {
      const json& f = p.at("for_each");
      if (!f.is_string() || f.get<std::string>() != "account") {
        fail(where + ": \"for_each\" can only be \"account\"");
      }
      for (const auto& [key, account] : accounts) {
        expanded.push_back(expand_program(p, label, defaults, base, &key, account));
        if (prefer) expanded.back().prefer_host = preferred_host(*prefer, expanded.back(), account);
      }
    } else {
      expanded.push_back(expand_program(p, label, defaults, base, nullptr, nullptr));
      if (prefer) expanded.back().prefer_host = preferred_host(*prefer, expanded.back(), nullptr);
    }
    for (auto& program : expanded) {
      const std::string origin =
          label + (program.account_key.empty() ? "" : " for account " + program.account_key);
      auto [it, inserted] = seen.emplace(program.spec.name, origin);
      if (!inserted) {
        fail("duplicate program name " + program.spec.name + ": " + it->second + " and " + origin);
      }
      plan.programs.push_back(std::move(program));
    }
  }
  if (plan.fleet) {  // a holder that cannot renew must be able to stop before its lease expires
    for (const auto& program : plan.programs) {
      if (plan.fleet->ttl_s > program.spec.stop_timeout_s + 2) continue;
      fail("LAUNCH.fleet.ttl_s (" + std::to_string(static_cast<long long>(plan.fleet->ttl_s)) +
           ") must exceed every program's stop timeout + 2 s (" + program.spec.name + ": " +
           std::to_string(static_cast<long long>(program.spec.stop_timeout_s)) +
           " s), so that a host that cannot renew its lease stops its programs before it expires");
    }
  }
  return plan;
}

}  // namespace

std::variant<LaunchPlan, ConfigFailure> parse_launch_plan(const std::string& text,
                                                          const std::string& path,
                                                          const LoadOptions& options) {
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    return ConfigFailure{exit_code::kConfig, path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                                                 " levels; a MASTER_CONFIG.json never needs that"};
  }
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    // A syntax error ("[json.exception.parse_error.101] parse error at line 3, column 7: ...")
    // or a number out of range (out_of_range.406, found by fuzz_launch_config: 1e3483).
    std::string what = e.what();
    const auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    return ConfigFailure{exit_code::kConfig, path + ": invalid JSON: " + what};
  }
  if (auto where = string_with_nul(root, "")) {
    return ConfigFailure{exit_code::kConfig, path + ": " + *where +
                                                 " contains a NUL character (\\u0000), which no command, "
                                                 "path or name can hold; remove it"};
  }
  try {
    return build_plan(root, path, options);
  } catch (const Invalid& invalid) {
    return ConfigFailure{exit_code::kConfig, path + ": " + invalid.message};
  } catch (const ConfigFailure& failure) {
    return failure;
  } catch (const json::exception& e) {  // a type nlohmann refused; should not happen
    return ConfigFailure{exit_code::kConfig, path + ": " + e.what()};
  }
}

std::variant<LaunchPlan, ConfigFailure> load_launch_plan(const std::string& path,
                                                         const LoadOptions& options) {
  std::error_code ec;
  const auto status = fs::status(to_path(path), ec);
  if (!fs::exists(status)) {
    return ConfigFailure{exit_code::kNoInput,
                         "cannot read " + path + ": no such file; pass the config's path, or run "
                         "qc-launch where MASTER_CONFIG.json is"};
  }
  if (fs::is_directory(status)) {
    return ConfigFailure{exit_code::kNoInput, "cannot read " + path + ": it is a directory"};
  }
  // A FIFO would block forever and a device (/dev/zero) never ends: a config is a file.
  if (!fs::is_regular_file(status)) {
    return ConfigFailure{exit_code::kConfig, "cannot use " + path +
                                                 ": it is not a regular file (a FIFO, a device or a socket); "
                                                 "pass the path of a MASTER_CONFIG.json file"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ConfigFailure{exit_code::kNoInput, "cannot read " + path + ": " + std::strerror(errno)};
  }
  // Read at most one byte past the cap, whatever the size said a moment ago.
  std::string text(static_cast<std::size_t>(kMaxConfigBytes) + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) {
    return ConfigFailure{exit_code::kConfig,
                         path + " is larger than 16 MiB; qc-launch reads configs up to 16 MiB"};
  }
  return parse_launch_plan(text, path, options);
}

OrchestratorAddress orchestrator_address(const std::string& path, const LoadOptions& options) {
  OrchestratorAddress out;
  std::error_code ec;
  const fs::path base = fs::absolute(to_path(path), ec).parent_path();
  std::string lock_dir = ".locks";
  std::ifstream in(path, std::ios::binary);
  if (in && fs::is_regular_file(to_path(path), ec)) {
    std::string text(static_cast<std::size_t>(kMaxConfigBytes), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    const json root = json::parse(text, nullptr, false);
    if (root.is_object() && root.contains("LAUNCH") && root["LAUNCH"].is_object()) {
      const json& launch = root["LAUNCH"];
      if (launch.contains("name") && launch["name"].is_string()) out.name = launch["name"].get<std::string>();
      if (launch.contains("lock_dir") && launch["lock_dir"].is_string()) lock_dir = launch["lock_dir"].get<std::string>();
    }
  }
  out.lock_dir = options.lock_dir ? *options.lock_dir : resolve(base, lock_dir);
  return out;
}

}  // namespace qc::launch
