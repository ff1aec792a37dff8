#pragma once
// The control API as an AgentComponent: at start it creates the ControlApi over the agent's
// supervisor (token file created if missing, config hashed) and registers /api/v1 on the
// agent's HttpServer; at stop it unregisters. Add it AFTER the component that starts the
// HttpServer (components start in order and stop in reverse).
//
//   auto api = std::make_unique<ControlApiComponent>(ControlApiHooks{
//       .server = [serving] { return &serving->server(); },        // the started HttpServer
//       .snapshots = [serving] { return serving->metrics().latest(); },
//   });
//   ControlApiComponent* apiPtr = api.get();
//   agent.addComponent(std::move(api));
//   ... later, once the adopter / policer / reloader exist:
//   apiPtr->api()->setAdopter(adoptFnFor(*adopter));
//
// Hooks left empty answer as documented in ControlApi.h (events: empty list; adopt and
// reload: 501).

#include <functional>
#include <memory>
#include <string>

#include "agent/AgentComponent.h"
#include "agent/ControlApi.h"
#include "agent/HttpServer.h"

namespace cgwarden::agent {

struct ControlApiHooks {
  // Every field has an initializer, so designated initializers may leave any out.
  std::function<HttpServer*()> server{};  // required; called at start()
  SnapshotFn snapshots{};
  EventsFn events{};
  AdoptFn adopt{};
  ReloadFn reload{};
  std::string tokenFile{};                // "" = <agent.state_dir>/api-token
};

class ControlApiComponent : public AgentComponent {
 public:
  explicit ControlApiComponent(ControlApiHooks hooks);
  std::string name() const override { return "control API"; }
  Status start(Agent& agent) override;
  void stop() override;

  // Valid after a successful start().
  ControlApi* api() { return api_.get(); }

 private:
  ControlApiHooks hooks_;
  std::unique_ptr<ControlApi> api_;
  HttpServer* server_ = nullptr;
};

}  // namespace cgwarden::agent
