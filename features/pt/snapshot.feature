# language: pt
@snapshot @paid @gpu @slow
Funcionalidade: Snapshot e restauração
  Um snapshot traz o trabalho de uma máquina de volta em outro lugar: o
  modelo instalado numa máquina que depois é apagada volta, íntegro, numa
  nova. Sabemos quanto tempo a restauração levou e o tamanho do snapshot.

  Contexto:
    Dado que a API da Dumont Cloud está saudável
    E que estou autenticado

  Esquema do Cenário: Um modelo <model> sobrevive à perda da sua <gpu> graças a um snapshot
    Dado a oferta mais barata de uma "<gpu>"
    E que o saldo cobre o custo máximo da jornada de snapshot
    Quando eu crio uma instância com essa oferta
    Então a instância fica em execução dentro do tempo limite
    E consigo me conectar a ela por SSH
    Quando eu instalo o modelo "<model>"
    Então os arquivos do modelo conferem com seus checksums
    Quando eu tiro um snapshot da instância
    Então o snapshot aparece na lista com o rótulo da execução
    Quando eu apago a instância
    Então a instância deixa de existir
    Quando eu restauro o snapshot numa nova instância
    Então os arquivos do modelo conferem com seus checksums
    E a GPU funciona e o modelo responde
    E o tempo de restauração, o tamanho do snapshot e a vazão são informados

    Exemplos:
      | model      | gpu       |
      | qwen2.5-7b | RTX A4000 |
