@quick
Feature: Quick checks
  Free checks that create nothing and cost nothing: is the service up,
  can we log in, is there money, and are there machines for rent?

  Scenario: The service answers and has machines for rent
    Given the Dumont Cloud API is healthy
    And I am logged in
    And the server says which journeys it can run
    Then my balance is shown
    And there are GPU offers among the allowed GPUs
    And there are CPU offers for standby machines
    And nothing was created
