/* SPDX-License-Identifier: MIT */
/*
 * An ICE peer built on libnice for the interop suite: it uses the ufrag/pwd it is given
 * (as Kiln's portal hands them out), trickles its host candidates into a file and reads
 * the Kiln agent's from another, answers "ping" with "pong" and pings back once ready.
 *
 *   nice-peer --role controlling|controlled --bind IP --ufrag U --pwd P --remote-ufrag U
 *             --remote-pwd P --cand-out FILE --cand-in FILE [--seconds N]
 */
#include <stdio.h>
#include <string.h>

#include <agent.h>
#include <gio/gio.h>

static struct {
        NiceAgent *agent;
        guint stream;
        FILE *out;
        const char *cand_in;
        long offset;
        gboolean ready;
        guint pings, pongs;
} peer;

static void on_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
        g_autofree char *sdp = nice_agent_generate_local_candidate_sdp(agent, cand);
        const char *line = g_str_has_prefix(sdp, "a=") ? sdp + 2 : sdp;

        fprintf(peer.out, "%s\n", line);
        fflush(peer.out);
        printf("NICE-LOCAL %s\n", line);
}

static void on_state(NiceAgent *agent, guint stream, guint component, guint state, gpointer data)
{
        printf("NICE-STATE %s\n", nice_component_state_to_string(state));
        if (state == NICE_COMPONENT_STATE_READY)
                peer.ready = TRUE;
        if (state == NICE_COMPONENT_STATE_FAILED)
                printf("NICE-FAILED\n");
}

static void on_selected(NiceAgent *agent, guint stream, guint component, NiceCandidate *local,
                        NiceCandidate *remote, gpointer data)
{
        char l[NICE_ADDRESS_STRING_LEN], r[NICE_ADDRESS_STRING_LEN];

        nice_address_to_string(&local->addr, l);
        nice_address_to_string(&remote->addr, r);
        printf("NICE-SELECTED %s:%u -> %s:%u\n", l, nice_address_get_port(&local->addr), r,
               nice_address_get_port(&remote->addr));
}

static void on_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *buf, gpointer data)
{
        if (len == 4 && memcmp(buf, "ping", 4) == 0) {
                nice_agent_send(agent, stream, component, 4, "pong");
                if (peer.pings++ == 0)
                        printf("NICE-RECV ping\n");
        } else if (len == 4 && memcmp(buf, "pong", 4) == 0) {
                if (peer.pongs++ == 0)
                        printf("NICE-RECV pong\n");
        }
}

static gboolean tick(gpointer data)
{
        FILE *f = fopen(peer.cand_in, "r");
        char line[512];
        GSList *cands = NULL;

        if (f) {
                if (fseek(f, peer.offset, SEEK_SET) == 0)
                        while (fgets(line, sizeof(line), f)) {
                                size_t n = strlen(line);
                                g_autofree char *sdp = NULL;
                                NiceCandidate *c;

                                if (line[n - 1] != '\n')
                                        break;
                                peer.offset += (long)n;
                                line[n - 1] = '\0';
                                if (line[0] == '-')
                                        continue; /* libnice has no per-candidate withdrawal */
                                sdp = g_strconcat("a=", line, NULL);
                                c = nice_agent_parse_remote_candidate_sdp(peer.agent, peer.stream, sdp);
                                printf("NICE-REMOTE %s%s\n", line, c ? "" : " (rejected)");
                                if (c)
                                        cands = g_slist_append(cands, c);
                        }
                fclose(f);
        }
        if (cands) {
                nice_agent_set_remote_candidates(peer.agent, peer.stream, 1, cands);
                g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
        }
        if (peer.ready)
                nice_agent_send(peer.agent, peer.stream, 1, 4, "ping");
        fflush(stdout);
        return G_SOURCE_CONTINUE;
}

static gboolean quit(gpointer loop)
{
        g_main_loop_quit(loop);
        return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[])
{
        g_autofree char *role = NULL, *bind = NULL, *ufrag = NULL, *pwd = NULL, *rufrag = NULL, *rpwd = NULL;
        g_autofree char *cand_out = NULL, *cand_in = NULL;
        int seconds = 60;
        GOptionEntry entries[] = {
                { "role", 0, 0, G_OPTION_ARG_STRING, &role, "controlling or controlled", NULL },
                { "bind", 0, 0, G_OPTION_ARG_STRING, &bind, "local IP", NULL },
                { "ufrag", 0, 0, G_OPTION_ARG_STRING, &ufrag, "local ufrag", NULL },
                { "pwd", 0, 0, G_OPTION_ARG_STRING, &pwd, "local password", NULL },
                { "remote-ufrag", 0, 0, G_OPTION_ARG_STRING, &rufrag, "remote ufrag", NULL },
                { "remote-pwd", 0, 0, G_OPTION_ARG_STRING, &rpwd, "remote password", NULL },
                { "cand-out", 0, 0, G_OPTION_ARG_FILENAME, &cand_out, "our candidates", NULL },
                { "cand-in", 0, 0, G_OPTION_ARG_FILENAME, &cand_in, "the peer's candidates", NULL },
                { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "run time", NULL },
                { NULL },
        };
        g_autoptr(GOptionContext) ctx = g_option_context_new("- libnice ICE test peer");
        g_autoptr(GError) error = NULL;
        g_autoptr(GMainLoop) loop = NULL;
        NiceAddress addr;

        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error) || !role || !bind || !ufrag || !pwd ||
            !rufrag || !rpwd || !cand_out || !cand_in) {
                fprintf(stderr, "nice-peer: %s\n", error ? error->message : "missing options");
                return 1;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        loop = g_main_loop_new(NULL, FALSE);
        peer.out = fopen(cand_out, "a");
        peer.cand_in = cand_in;
        if (!peer.out)
                return 1;
        peer.agent =
            nice_agent_new_full(NULL, NICE_COMPATIBILITY_RFC5245,
                                NICE_AGENT_OPTION_REGULAR_NOMINATION | NICE_AGENT_OPTION_ICE_TRICKLE);
        g_object_set(peer.agent, "controlling-mode", g_strcmp0(role, "controlling") == 0, "upnp", FALSE,
                     "ice-tcp", FALSE, NULL);
        if (!nice_address_set_from_string(&addr, bind))
                return 1;
        nice_agent_add_local_address(peer.agent, &addr);
        g_signal_connect(peer.agent, "new-candidate-full", G_CALLBACK(on_candidate), NULL);
        g_signal_connect(peer.agent, "component-state-changed", G_CALLBACK(on_state), NULL);
        g_signal_connect(peer.agent, "new-selected-pair-full", G_CALLBACK(on_selected), NULL);
        peer.stream = nice_agent_add_stream(peer.agent, 1);
        nice_agent_set_local_credentials(peer.agent, peer.stream, ufrag, pwd);
        nice_agent_set_remote_credentials(peer.agent, peer.stream, rufrag, rpwd);
        nice_agent_attach_recv(peer.agent, peer.stream, 1, g_main_context_default(), on_recv, NULL);
        if (!nice_agent_gather_candidates(peer.agent, peer.stream))
                return 1;
        g_timeout_add(100, tick, NULL);
        g_timeout_add_seconds((guint)seconds, quit, loop);
        g_main_loop_run(loop);
        printf("NICE-DONE ready=%d pings=%u pongs=%u\n", peer.ready, peer.pings, peer.pongs);
        g_object_unref(peer.agent);
        fclose(peer.out);
        return peer.ready ? 0 : 1;
}
