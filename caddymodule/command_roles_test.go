package caddymodule

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlstore"
)

func TestRoleAndTeamCommandsRegistered(t *testing.T) {
	for name, subs := range map[string][]string{"role": {"list", "set", "delete"}, "team": {"list", "create", "delete", "add", "remove"}} {
		c, ok := caddycmd.Commands()[name]
		if !ok {
			t.Fatalf("the %s command is not registered", name)
		}
		if !gatehouseCommands(caddycmd.Commands())[name] {
			t.Errorf("%s is not listed among the Gatehouse commands", name)
		}
		root := &cobra.Command{Use: name}
		c.CobraFunc(root)
		for _, sub := range subs {
			if got, _, err := root.Find([]string{sub}); err != nil || got.Name() != sub {
				t.Errorf("%s %s: %v, %v", name, sub, got, err)
			}
		}
	}
}

// TestRoleAndTeamCommands: the CLI adds and changes roles (bad permissions named, owner
// fixed), a member can be given the new role, a role held is deleted and restored, a
// built-in one is reset; teams are created (unique regardless of case), filled,
// emptied, deleted and restored — each audited with the CLI as the actor.
func TestRoleAndTeamCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "gh.db")
	cfg := filepath.Join(dir, "gatehouse.json")
	if err := os.WriteFile(cfg, []byte(`{"apps":{"gatehouse":{"store":"sqlite://`+db+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(cmd *cobra.Command, args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(args, "--config", cfg))
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	ok := func(want string, cmd *cobra.Command, args ...string) string {
		t.Helper()
		out, err := run(cmd, args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("%s %v: %v, want output with %q:\n%s", cmd.Name(), args, err, want, out)
		}
		return out
	}
	fails := func(want string, cmd *cobra.Command, args ...string) {
		t.Helper()
		out, err := run(cmd, args...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s %v: %v, want an error saying %q:\n%s", cmd.Name(), args, err, want, out)
		}
	}
	const ann = "ann@example.com"
	ok("added "+ann, userAddCmd(), "--email", ann, "--bcrypt-cost", "4")

	// Roles.
	fails(`unknown role "sales"`, userSetRoleCmd(), "--email", ann, "--role", "sales")
	ok("role sales (custom): deals:read:tenant,deals:edit:own", roleSetCmd(), "sales", "--permission", "deals:read:tenant", "--permission", "deals:edit:own", "--description", "Sells")
	fails(`--permission: permission "deals:read": want resource:action:scope`, roleSetCmd(), "sales", "--permission", "deals:read", "--permission", "deals:read:own")
	fails("NAME: role name", roleSetCmd(), "Sales", "--permission", "deals:read:own")
	fails("the owner role always has everything", roleSetCmd(), "owner", "--permission", "deals:read:own")
	fails("accepts 1 arg", roleSetCmd(), "--permission", "deals:read:own")
	ok(ann+": role sales", userSetRoleCmd(), "--email", ann, "--role", "sales")
	list := ok("ROLE", roleListCmd())
	if !regexp.MustCompile(`(?m)^sales\s+custom\s+1\s+deals:read:tenant,deals:edit:own\s+Sells$`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^owner\s+built-in\s+0\s+everything \(fixed\)`).MatchString(list) {
		t.Fatalf("role list:\n%s", list)
	}
	ok("role sales deleted; restorable for 30 days", roleDeleteCmd(), "sales")
	if list := ok("ROLE", roleRestoreCmds()[1]); !regexp.MustCompile(`(?m)^sales\s+\S+\s+30\s+\S+$`).MatchString(list) {
		t.Fatalf("role deleted:\n%s", list)
	}
	fails(`has a deleted role "sales": restore it`, roleSetCmd(), "sales", "--permission", "deals:read:own")
	fails(`has no deleted role "nope"`, roleRestoreCmds()[0], "nope")
	ok("role sales restored", roleRestoreCmds()[0], "sales")
	ok("role manager (built-in, changed): deals:read:team", roleSetCmd(), "manager", "--permission", "deals:read:team")
	ok("role manager: back to its default permissions", roleDeleteCmd(), "manager")
	ok(ann+": role member", userSetRoleCmd(), "--email", ann, "--role", "member")
	ok("role sales deleted", roleDeleteCmd(), "sales")
	fails(`has no role "sales"`, roleDeleteCmd(), "sales")

	// Teams.
	ok("default has no teams", teamListCmd())
	ok(`team "Sales EMEA" created`, teamCreateCmd(), "Sales EMEA")
	fails(`has a team "sales emea" already`, teamCreateCmd(), "sales emea")
	fails("NAME: a team name has 1 to 64 characters", teamCreateCmd(), strings.Repeat("x", 65))
	ok(ann+` added to "Sales EMEA" (in 1 team(s))`, teamMemberCmd(true), "sales emea", "--email", ann)
	if list := ok("TEAM", teamListCmd()); !regexp.MustCompile(`(?m)^Sales EMEA\s+1\s+\S+$`).MatchString(list) {
		t.Fatalf("team list:\n%s", list)
	}
	fails("--email: no member of tenant default", teamMemberCmd(true), "Sales EMEA", "--email", "nobody@example.com")
	fails(`has no team "Ops"`, teamMemberCmd(true), "Ops", "--email", ann)
	ok(ann+` removed from "Sales EMEA" (in 0 team(s))`, teamMemberCmd(false), "Sales EMEA", "--email", ann)
	ok(`team "Sales EMEA" deleted`, teamDeleteCmd(), "Sales EMEA")
	fails(`has no team "Sales EMEA"`, teamDeleteCmd(), "Sales EMEA")
	if list := ok("TEAM", teamRestoreCmds()[1]); !regexp.MustCompile(`(?m)^Sales EMEA\s+\S+\s+30\s+\S+$`).MatchString(list) {
		t.Fatalf("team deleted:\n%s", list)
	}
	ok(`team "Sales EMEA" restored`, teamRestoreCmds()[0], "sales emea")
	fails(`has no deleted team "Sales EMEA"`, teamRestoreCmds()[0], "Sales EMEA")
	ok(`team "Sales EMEA" deleted`, teamDeleteCmd(), "Sales EMEA")
	fails(`--tenant "nope": no such tenant`, teamListCmd(), "--tenant", "nope")

	// Audited, with the CLI as the actor.
	st, err := sqlstore.Open(context.Background(), "sqlite://"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.Tenants().TenantBySlug(context.Background(), admin.DefaultTenantSlug)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.Tenant(tn.ID).Audit().ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		if strings.HasPrefix(r.Action, "role.") || strings.HasPrefix(r.Action, "team.") {
			count[r.Action]++
			if r.ActorID != "cli" {
				t.Errorf("%s by %q", r.Action, r.ActorID)
			}
		}
	}
	want := map[string]int{admin.ActionRoleSet: 2, admin.ActionRoleDelete: 3, admin.ActionRoleRestore: 1, admin.ActionTeamCreate: 1,
		admin.ActionTeamMemberAdd: 1, admin.ActionTeamMemberRemove: 1, admin.ActionTeamDelete: 2, admin.ActionTeamRestore: 1}
	for a, n := range want {
		if count[a] != n {
			t.Errorf("%d %s records, want %d (%v)", count[a], a, n, count)
		}
	}
}
